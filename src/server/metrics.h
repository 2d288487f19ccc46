// A small Prometheus metrics registry: counters, gauges and histograms, each a
// family with labels, rendered in the Prometheus text exposition format 0.0.4
// for GET /metrics.
//
// Hot-path updates (Counter::Increment, Histogram::Observe) are lock-free: each
// metric keeps a few cache-line-sized shards picked by thread, so cores do not
// fight over one atomic. Looking a labelled child up takes a reader lock on its
// family; callers on a hot path keep the returned reference (children live as
// long as the registry).
//
// Thread-safety: everything here may be used from any thread.
#ifndef CLOVER_SERVER_METRICS_H_
#define CLOVER_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace clover::server {

namespace metrics_internal {
inline constexpr int kShards = 8;
// The calling thread's shard, fixed per thread.
int ShardIndex();
}  // namespace metrics_internal

// A monotonically increasing count.
class Counter {
 public:
  void Increment(uint64_t n = 1) {
    shards_[metrics_internal::ShardIndex()].value.fetch_add(
        n, std::memory_order_relaxed);
  }
  uint64_t Value() const;

 private:
  struct alignas(64) Shard {
    std::atomic<uint64_t> value{0};
  };
  std::array<Shard, metrics_internal::kShards> shards_;
};

// A value that goes up and down (queue depth, log size).
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations into cumulative buckets with the given upper bounds
// (sorted, finite; +Inf is implicit) and keeps their sum.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  struct alignas(64) Shard {
    std::unique_ptr<std::atomic<uint64_t>[]> buckets;  // bounds_.size() + 1
    std::atomic<double> sum{0};
  };
  std::vector<double> bounds_;
  std::array<Shard, metrics_internal::kShards> shards_;
};

// Latency buckets in seconds suited to a gateway: 100 µs .. 10 s.
const std::vector<double>& DefaultLatencyBuckets();

// A named metric with label names; each distinct tuple of label values is one
// child.
template <typename M>
class MetricFamily {
 public:
  // The child for `values` (one per label name, in order), created on first
  // use. Missing values count as "" and extra values are ignored, so a caller
  // mistake never crashes the server. The reference stays valid for the
  // registry's lifetime.
  M& WithLabels(std::initializer_list<absl::string_view> values);
  M& WithLabels(const std::vector<absl::string_view>& values);

  const std::string& name() const { return name_; }

 private:
  friend class MetricsRegistry;
  MetricFamily(std::string name, std::string help,
               std::vector<std::string> label_names, std::vector<double> bounds)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}
  template <typename It>
  M& Lookup(It begin, It end);
  void Render(absl::string_view type, std::string& out) const;

  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // histograms only
  mutable absl::Mutex mu_;
  // Key: label values joined by '\xff'.
  absl::flat_hash_map<std::string, std::unique_ptr<M>> children_
      ABSL_GUARDED_BY(mu_);
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Registers a family. InvalidArgument for a name or label name that is not a
  // valid Prometheus identifier, AlreadyExists for a name registered before.
  // The pointer is owned by the registry.
  [[nodiscard]] absl::StatusOr<CounterFamily*> AddCounter(
      std::string name, std::string help, std::vector<std::string> label_names);
  [[nodiscard]] absl::StatusOr<GaugeFamily*> AddGauge(
      std::string name, std::string help, std::vector<std::string> label_names);
  // `bounds` must be sorted ascending and finite (InvalidArgument otherwise).
  [[nodiscard]] absl::StatusOr<HistogramFamily*> AddHistogram(
      std::string name, std::string help, std::vector<std::string> label_names,
      std::vector<double> bounds = DefaultLatencyBuckets());

  // The text exposition format (Content-Type "text/plain; version=0.0.4"),
  // families in registration order, children sorted by label values.
  std::string Render() const;

 private:
  absl::Status CheckNew(const std::string& name,
                        const std::vector<std::string>& labels) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<CounterFamily>> counters_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<GaugeFamily>> gauges_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<HistogramFamily>> histograms_
      ABSL_GUARDED_BY(mu_);
  // Registration order across kinds: (kind, index).
  std::vector<std::pair<int, size_t>> order_ ABSL_GUARDED_BY(mu_);
};

// The HTTP metrics the server records for every response:
//   clover_http_requests_total{method,route,status}          counter
//   clover_http_request_duration_seconds{method,route,status} histogram
//   clover_http_connections_refused_total                     counter
// No label takes a client-chosen string: `method` is one of the standard
// methods, "other" or "" (no request line), `route` a pattern the server
// registered or "none", `status` three digits the server chose.
class HttpMetrics {
 public:
  // Registers both families in `registry` (which must outlive this object).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HttpMetrics>> Create(
      MetricsRegistry& registry);

  struct Child {
    Counter* requests;
    Histogram* duration;
  };
  // `route` empty is recorded as "none" (the request never reached a route);
  // `method` is recorded as MethodLabel(method).
  Child Get(absl::string_view method, absl::string_view route, int status);

  // The `method` label of a request method: the method itself for GET, HEAD,
  // POST, PUT, DELETE, PATCH, OPTIONS, TRACE and CONNECT (case-sensitive, RFC
  // 9110 §9.1), "" for none, "other" for anything else. Static storage.
  static absl::string_view MethodLabel(absl::string_view method);

  // Connections closed at once because the server was at its connection
  // limit.
  Counter& connections_refused() { return *connections_refused_; }

 private:
  HttpMetrics(CounterFamily* requests, HistogramFamily* duration,
              Counter* connections_refused)
      : requests_(requests),
        duration_(duration),
        connections_refused_(connections_refused) {}
  CounterFamily* requests_;
  HistogramFamily* duration_;
  Counter* connections_refused_;
};

}  // namespace clover::server

#endif  // CLOVER_SERVER_METRICS_H_
