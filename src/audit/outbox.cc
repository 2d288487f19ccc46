#include "audit/outbox.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/logger.h"
#include "core/status_macros.h"
#include "crypto/constant_time.h"
#include "crypto/hmac.h"

namespace clover::audit {
namespace {

std::string CursorKey(absl::string_view name) {
  return absl::StrCat("cursor/", name);
}

}  // namespace

std::string WebhookSignature(absl::string_view secret, int64_t timestamp,
                             absl::string_view body) {
  // std::string converts to whichever string_view flavour the crypto API takes.
  absl::StatusOr<crypto::HmacSha256Tag> tag = crypto::HmacSha256Once(
      std::string(secret), absl::StrCat(timestamp, ".", body));
  if (!tag.ok()) return "v1=";
  return absl::StrCat(
      "v1=", absl::BytesToHexString(absl::string_view(
                 reinterpret_cast<const char*>(tag->data()), tag->size())));
}

absl::Status VerifyWebhookSignature(absl::string_view secret,
                                    absl::string_view timestamp_header,
                                    absl::string_view signature_header,
                                    absl::string_view body, absl::Time now,
                                    absl::Duration tolerance) {
  int64_t ts;
  timestamp_header = absl::StripAsciiWhitespace(timestamp_header);
  // Digits only: "+5" or " 5" would sign differently than they parse.
  if (timestamp_header.empty() || timestamp_header.size() > 18 ||
      !std::all_of(timestamp_header.begin(), timestamp_header.end(),
                   absl::ascii_isdigit) ||
      !absl::SimpleAtoi(timestamp_header, &ts)) {
    return absl::UnauthenticatedError("X-Clover-Timestamp is missing or bad");
  }
  if (absl::AbsDuration(now - absl::FromUnixSeconds(ts)) > tolerance) {
    return absl::UnauthenticatedError(
        "X-Clover-Timestamp is outside the tolerance (a replay?)");
  }
  const std::string want = WebhookSignature(secret, ts, body);
  bool ok = false;
  for (absl::string_view sig : absl::StrSplit(signature_header, ',')) {
    sig = absl::StripAsciiWhitespace(sig);
    ok |= crypto::ConstantTimeEquals(absl::string_view(sig.data(), sig.size()),
                                     want);
  }
  if (!ok) return absl::UnauthenticatedError("X-Clover-Signature mismatch");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<WebhookSink>> WebhookSink::Create(
    std::string url, std::string secret, absl::Duration timeout,
    const Clock& clock) {
  if (url.empty()) return absl::InvalidArgumentError("webhook URL is empty");
  if (secret.empty())
    return absl::InvalidArgumentError("webhook secret is empty");
  return std::unique_ptr<WebhookSink>(
      new WebhookSink(std::move(url), std::move(secret), timeout, clock));
}

WebhookSink::WebhookSink(std::string url, std::string secret,
                         absl::Duration timeout, const Clock& clock)
    : url_(std::move(url)),
      secret_(std::move(secret)),
      timeout_(timeout),
      clock_(clock) {}

WebhookSink::~WebhookSink() = default;

absl::Status WebhookSink::Deliver(uint64_t seq, absl::string_view event) {
  const int64_t now = absl::ToUnixSeconds(clock_.Now());
  net::HttpCall call;
  call.method = "POST";
  call.url = url_;
  call.headers = {"Content-Type: application/json",
                  absl::StrCat("X-Clover-Timestamp: ", now),
                  absl::StrCat("X-Clover-Signature: ",
                               WebhookSignature(secret_, now, event)),
                  absl::StrCat("X-Clover-Delivery: ", seq)};
  call.body = event;
  call.timeout = timeout_;
  call.max_answer_bytes = size_t{1} << 20;  // the receiver's answer is unused
  absl::StatusOr<net::HttpAnswer> answer = client_.Send(call);
  if (!answer.ok()) {
    return absl::UnavailableError(
        absl::StrCat("webhook POST failed: ", answer.status().message()));
  }
  if (answer->status < 200 || answer->status > 299) {
    return absl::UnavailableError(
        absl::StrCat("webhook answered HTTP ", answer->status));
  }
  return absl::OkStatus();
}

JsonlSink::~JsonlSink() {
  if (fd_ >= 0) close(fd_);
}

absl::Status JsonlSink::Deliver(uint64_t seq, absl::string_view event) {
  if (fd_ < 0) {
    fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      return absl::UnavailableError(absl::StrCat(
          "cannot open incident file '", path_, "': ", std::strerror(errno)));
    }
  }
  std::string line = absl::StrCat(event, "\n");
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = write(fd_, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::UnavailableError(absl::StrCat(
          "writing incident file '", path_, "': ", std::strerror(errno)));
    }
    off += static_cast<size_t>(n);
  }
  if (fdatasync(fd_) != 0) {
    return absl::UnavailableError(absl::StrCat("syncing incident file '", path_,
                                               "': ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<OutboxWorker>> OutboxWorker::Start(
    IncidentStore* store, std::unique_ptr<EventSink> sink,
    OutboxOptions options) {
  uint64_t cursor = 0;
  absl::StatusOr<std::string> v = store->kv()->Get(CursorKey(sink->name()));
  if (v.ok()) {
    if (!absl::SimpleAtoi(*v, &cursor)) {
      return absl::DataLossError(
          absl::StrCat("corrupt outbox cursor for ", sink->name()));
    }
  } else if (!absl::IsNotFound(v.status())) {
    return v.status();
  }
  return std::unique_ptr<OutboxWorker>(
      new OutboxWorker(store, std::move(sink), options, cursor));
}

OutboxWorker::OutboxWorker(IncidentStore* store,
                           std::unique_ptr<EventSink> sink,
                           OutboxOptions options, uint64_t cursor)
    : store_(store),
      sink_(std::move(sink)),
      options_(options),
      cursor_(cursor) {
  thread_ = std::thread([this] { Run(); });
}

OutboxWorker::~OutboxWorker() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void OutboxWorker::Run() {
  absl::Duration backoff = options_.initial_backoff;
  while (!stop_.HasBeenNotified()) {
    const uint64_t cursor = cursor_.load();
    if (store_->WaitForEvents(cursor, absl::Milliseconds(200)) <= cursor)
      continue;
    absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> events =
        store_->ReadEvents(cursor, 32);
    if (!events.ok() || events->empty()) {
      if (!events.ok())
        logging::Error(
            "outbox: cannot read events",
            {{"sink", sink_->name()}, {"cause", events.status().ToString()}});
      stop_.WaitForNotificationWithTimeout(backoff);
      continue;
    }
    for (const auto& [seq, event] : *events) {
      if (stop_.HasBeenNotified()) return;
      absl::Status s = sink_->Deliver(seq, event);
      if (!s.ok()) {
        failures_.fetch_add(1);
        logging::Warn("outbox: event not delivered, retrying",
                      {{"sink", sink_->name()},
                       {"event_seq", seq},
                       {"retry_in", absl::FormatDuration(backoff)},
                       {"cause", s.ToString()}});
        stop_.WaitForNotificationWithTimeout(backoff);
        backoff = std::min(backoff * 2, options_.max_backoff);
        break;
      }
      backoff = options_.initial_backoff;
      absl::Status c =
          store_->kv()->Put(CursorKey(sink_->name()), absl::StrCat(seq + 1));
      if (!c.ok()) {
        logging::Error("outbox: cannot persist its cursor",
                       {{"sink", sink_->name()}, {"cause", c.ToString()}});
        stop_.WaitForNotificationWithTimeout(backoff);
        break;
      }
      cursor_.store(seq + 1);
    }
  }
}

}  // namespace clover::audit
