#include "server/metrics.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace clover::server {
namespace metrics_internal {

int ShardIndex() {
  static std::atomic<int> next{0};
  thread_local const int index =
      next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return index;
}

}  // namespace metrics_internal

namespace {

constexpr char kKeySeparator = '\xff';

bool ValidName(absl::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void AppendLabelValue(absl::string_view v, std::string& out) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

void AppendHelp(absl::string_view v, std::string& out) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

void AppendNumber(double v, std::string& out) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
    absl::StrAppend(&out, static_cast<int64_t>(v));
  } else {
    absl::StrAppendFormat(&out, "%.17g", v);
  }
}

// Appends `{a="x",b="y"` + extra + `}`; nothing when there are no labels at
// all.
void AppendLabels(const std::vector<std::string>& names, absl::string_view key,
                  absl::string_view extra, std::string& out) {
  if (names.empty() && extra.empty()) return;
  out.push_back('{');
  std::vector<absl::string_view> values =
      names.empty() ? std::vector<absl::string_view>()
                    : absl::StrSplit(key, kKeySeparator);
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += names[i];
    out += "=\"";
    AppendLabelValue(i < values.size() ? values[i] : absl::string_view(), out);
    out.push_back('"');
  }
  if (!extra.empty()) {
    if (!names.empty()) out.push_back(',');
    absl::StrAppend(&out, extra);
  }
  out.push_back('}');
}

}  // namespace

uint64_t Counter::Value() const {
  uint64_t total = 0;
  for (const Shard& s : shards_)
    total += s.value.load(std::memory_order_relaxed);
  return total;
}

Histogram::Histogram(const std::vector<double>& bounds) : bounds_(bounds) {
  for (Shard& s : shards_) {
    s.buckets = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
    for (size_t i = 0; i <= bounds_.size(); ++i)
      s.buckets[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::Observe(double v) {
  // Buckets are few (~15): a linear scan beats binary search on such sizes.
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  Shard& s = shards_[metrics_internal::ShardIndex()];
  s.buckets[i].fetch_add(1, std::memory_order_relaxed);
  s.sum.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snap;
  std::vector<uint64_t> counts(bounds_.size() + 1, 0);
  for (const Shard& s : shards_) {
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      counts[i] += s.buckets[i].load(std::memory_order_relaxed);
    }
    snap.sum += s.sum.load(std::memory_order_relaxed);
  }
  uint64_t running = 0;
  snap.cumulative.reserve(counts.size());
  for (uint64_t c : counts) {
    running += c;
    snap.cumulative.push_back(running);
  }
  snap.count = running;
  return snap;
}

const std::vector<double>& DefaultLatencyBuckets() {
  static const auto* kBuckets = new std::vector<double>{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};
  return *kBuckets;
}

template <typename M>
template <typename It>
M& MetricFamily<M>::Lookup(It begin, It end) {
  // A per-thread scratch key keeps the common (existing child) path free of
  // allocation.
  thread_local std::string key;
  key.clear();
  size_t n = 0;
  for (It it = begin; it != end && n < label_names_.size(); ++it, ++n) {
    if (n > 0) key.push_back(kKeySeparator);
    key.append(it->data(), it->size());
  }
  for (; n < label_names_.size(); ++n) {
    if (n > 0) key.push_back(kKeySeparator);
  }
  {
    absl::ReaderMutexLock lock(&mu_);
    auto found = children_.find(key);
    if (found != children_.end()) return *found->second;
  }
  absl::MutexLock lock(&mu_);
  auto& slot = children_[key];
  if (slot == nullptr) {
    if constexpr (std::is_same_v<M, Histogram>) {
      slot = std::make_unique<Histogram>(bounds_);
    } else {
      slot = std::make_unique<M>();
    }
  }
  return *slot;
}

template <typename M>
M& MetricFamily<M>::WithLabels(
    std::initializer_list<absl::string_view> values) {
  return Lookup(values.begin(), values.end());
}

template <typename M>
M& MetricFamily<M>::WithLabels(const std::vector<absl::string_view>& values) {
  return Lookup(values.begin(), values.end());
}

template <typename M>
void MetricFamily<M>::Render(absl::string_view type, std::string& out) const {
  out += "# HELP ";
  out += name_;
  out.push_back(' ');
  AppendHelp(help_, out);
  out += "\n# TYPE ";
  out += name_;
  out.push_back(' ');
  absl::StrAppend(&out, type);
  out.push_back('\n');

  std::vector<std::pair<std::string, const M*>> children;
  {
    absl::ReaderMutexLock lock(&mu_);
    children.reserve(children_.size());
    for (const auto& [key, child] : children_)
      children.emplace_back(key, child.get());
  }
  std::sort(children.begin(), children.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [key, child] : children) {
    if constexpr (std::is_same_v<M, Histogram>) {
      Histogram::Snapshot snap = child->Read();
      const std::vector<double>& bounds = child->bounds();
      for (size_t i = 0; i <= bounds.size(); ++i) {
        std::string le = "le=\"";
        if (i < bounds.size()) {
          AppendNumber(bounds[i], le);
        } else {
          le += "+Inf";
        }
        le.push_back('"');
        out += name_;
        out += "_bucket";
        AppendLabels(label_names_, key, le, out);
        out.push_back(' ');
        absl::StrAppend(&out, snap.cumulative[i]);
        out.push_back('\n');
      }
      out += name_;
      out += "_sum";
      AppendLabels(label_names_, key, "", out);
      out.push_back(' ');
      AppendNumber(snap.sum, out);
      out.push_back('\n');
      out += name_;
      out += "_count";
      AppendLabels(label_names_, key, "", out);
      out.push_back(' ');
      absl::StrAppend(&out, snap.count);
      out.push_back('\n');
    } else {
      out += name_;
      AppendLabels(label_names_, key, "", out);
      out.push_back(' ');
      if constexpr (std::is_same_v<M, Counter>) {
        absl::StrAppend(&out, child->Value());
      } else {
        AppendNumber(child->Value(), out);
      }
      out.push_back('\n');
    }
  }
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

absl::Status MetricsRegistry::CheckNew(
    const std::string& name, const std::vector<std::string>& labels) const {
  if (!ValidName(name, /*allow_colon=*/true)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid metric name '", name, "'"));
  }
  for (const std::string& label : labels) {
    if (!ValidName(label, /*allow_colon=*/false) || label.rfind("__", 0) == 0 ||
        label == "le") {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid label name '", label, "' for metric '", name, "'"));
    }
  }
  auto taken = [&](const auto& families) {
    return std::any_of(families.begin(), families.end(),
                       [&](const auto& f) { return f->name() == name; });
  };
  if (taken(counters_) || taken(gauges_) || taken(histograms_)) {
    return absl::AlreadyExistsError(
        absl::StrCat("metric '", name, "' registered twice"));
  }
  return absl::OkStatus();
}

absl::StatusOr<CounterFamily*> MetricsRegistry::AddCounter(
    std::string name, std::string help, std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckNew(name, label_names); !s.ok()) return s;
  counters_.push_back(std::unique_ptr<CounterFamily>(new CounterFamily(
      std::move(name), std::move(help), std::move(label_names), {})));
  order_.emplace_back(0, counters_.size() - 1);
  return counters_.back().get();
}

absl::StatusOr<GaugeFamily*> MetricsRegistry::AddGauge(
    std::string name, std::string help, std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckNew(name, label_names); !s.ok()) return s;
  gauges_.push_back(std::unique_ptr<GaugeFamily>(new GaugeFamily(
      std::move(name), std::move(help), std::move(label_names), {})));
  order_.emplace_back(1, gauges_.size() - 1);
  return gauges_.back().get();
}

absl::StatusOr<HistogramFamily*> MetricsRegistry::AddHistogram(
    std::string name, std::string help, std::vector<std::string> label_names,
    std::vector<double> bounds) {
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "histogram '", name,
          "': bucket bounds must be finite and strictly ascending"));
    }
  }
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckNew(name, label_names); !s.ok()) return s;
  histograms_.push_back(std::unique_ptr<HistogramFamily>(
      new HistogramFamily(std::move(name), std::move(help),
                          std::move(label_names), std::move(bounds))));
  order_.emplace_back(2, histograms_.size() - 1);
  return histograms_.back().get();
}

std::string MetricsRegistry::Render() const {
  std::string out;
  absl::MutexLock lock(&mu_);
  for (const auto& [kind, index] : order_) {
    switch (kind) {
      case 0:
        counters_[index]->Render("counter", out);
        break;
      case 1:
        gauges_[index]->Render("gauge", out);
        break;
      default:
        histograms_[index]->Render("histogram", out);
        break;
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<HttpMetrics>> HttpMetrics::Create(
    MetricsRegistry& registry) {
  std::vector<std::string> labels = {"method", "route", "status"};
  auto requests = registry.AddCounter(
      "clover_http_requests_total",
      "HTTP requests answered, by method, route and status.", labels);
  if (!requests.ok()) return requests.status();
  auto duration =
      registry.AddHistogram("clover_http_request_duration_seconds",
                            "Time from a complete request to its response "
                            "being queued, by method, route and status.",
                            labels);
  if (!duration.ok()) return duration.status();
  auto refused = registry.AddCounter(
      "clover_http_connections_refused_total",
      "Connections closed at once because the server was at its connection "
      "limit.",
      {});
  if (!refused.ok()) return refused.status();
  return std::unique_ptr<HttpMetrics>(
      new HttpMetrics(*requests, *duration, &(*refused)->WithLabels({})));
}

absl::string_view HttpMetrics::MethodLabel(absl::string_view method) {
  static constexpr absl::string_view kKnown[] = {
      "GET",   "HEAD",    "POST",  "PUT",    "DELETE",
      "PATCH", "OPTIONS", "TRACE", "CONNECT"};
  if (method.empty()) return "";
  for (absl::string_view known : kKnown) {
    if (method == known) return known;
  }
  return "other";
}

HttpMetrics::Child HttpMetrics::Get(absl::string_view method,
                                    absl::string_view route, int status) {
  char digits[8];
  int n = 0;
  int s = std::clamp(status, 0, 999);
  digits[n++] = static_cast<char>('0' + s / 100);
  digits[n++] = static_cast<char>('0' + s / 10 % 10);
  digits[n++] = static_cast<char>('0' + s % 10);
  absl::string_view status_text(digits, n);
  if (route.empty()) route = "none";
  method = MethodLabel(method);
  return Child{&requests_->WithLabels({method, route, status_text}),
               &duration_->WithLabels({method, route, status_text})};
}

}  // namespace clover::server
