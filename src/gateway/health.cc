#include "gateway/health.h"

#include <optional>
#include <utility>

#include "absl/time/clock.h"
#include "core/logger.h"

namespace clover::gateway {

void FailureWindow::Failed(HealthProblem problem, const absl::Status& cause) {
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  if (now - last_logged_ >= hold_) {
    logging::Error("not ready",
                   {{"reason", problem.reason}, {"cause", cause.ToString()}});
    last_logged_ = now;
  }
  problem_ = std::move(problem);
  last_failure_ = now;
  failing_.store(true, std::memory_order_relaxed);
}

void FailureWindow::Succeeded() {
  if (!failing_.load(std::memory_order_relaxed)) return;
  absl::MutexLock lock(&mu_);
  failing_.store(false, std::memory_order_relaxed);
  if (problem_.has_value()) {
    logging::Info("ready again", {{"reason", problem_->reason}});
  }
  problem_.reset();
  last_logged_ = absl::InfinitePast();
}

std::optional<HealthProblem> FailureWindow::Current(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  if (!problem_.has_value() || now - last_failure_ >= hold_) {
    return std::nullopt;
  }
  return problem_;
}

FailureWindow& KeyReleaseHealth() {
  static FailureWindow* window = new FailureWindow(absl::Seconds(5));
  return *window;
}

}  // namespace clover::gateway
