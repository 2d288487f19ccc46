// Micro-benchmarks of what the HTTP server does per request, each beside a
// baseline measured in the same run: sharded counter vs one shared atomic under
// contention, router dispatch vs a direct call, request-target parsing vs a
// plain copy.
#include <atomic>
#include <string>

#include "benchmark/benchmark.h"
#include "server/http.h"
#include "server/metrics.h"
#include "server/router.h"
#include "server/url.h"

namespace clover::server {
namespace {

std::atomic<uint64_t> g_shared_counter{0};

void BM_SharedAtomicIncrement(benchmark::State& state) {
  for (auto _ : state) g_shared_counter.fetch_add(1, std::memory_order_relaxed);
}
BENCHMARK(BM_SharedAtomicIncrement)->Threads(1)->Threads(2)->Threads(4);

void BM_ShardedCounterIncrement(benchmark::State& state) {
  static Counter* counter = new Counter();
  for (auto _ : state) counter->Increment();
}
BENCHMARK(BM_ShardedCounterIncrement)->Threads(1)->Threads(2)->Threads(4);

void BM_LabelledHistogramObserve(benchmark::State& state) {
  static MetricsRegistry* registry = new MetricsRegistry();
  static HttpMetrics* metrics = HttpMetrics::Create(*registry)->release();
  for (auto _ : state) {
    HttpMetrics::Child c = metrics->Get("GET", "/v1/subjects/{id}", 200);
    c.requests->Increment();
    c.duration->Observe(0.0004);
  }
}
BENCHMARK(BM_LabelledHistogramObserve)->Threads(1)->Threads(2);

void Respond(HttpRequest&, Responder respond) {
  respond(HttpResponse::Json(200, "{}"));
}

void BM_DirectHandlerCall(benchmark::State& state) {
  Handler handler = Respond;
  HttpRequest req;
  req.method = "GET";
  req.path = "/v1/subjects/u-123456";
  for (auto _ : state) {
    handler(req, [](HttpResponse r) { benchmark::DoNotOptimize(r); });
  }
}
BENCHMARK(BM_DirectHandlerCall);

void BM_RouterDispatch(benchmark::State& state) {
  Router router;
  for (const char* p :
       {"/healthz", "/readyz", "/metrics", "/v1/subjects/{id}",
        "/v1/subjects/{id}/access-report", "/v1/exports", "/v1/detokenize",
        "/v1/aggregates", "/v1/approvals", "/v1/approvals/{id}/approve",
        "/v1/approvals/{id}/deny", "/v1/incidents", "/v1/incidents/{id}/ack",
        "/log/checkpoint", "/log/tile/*"}) {
    router.Handle("GET", p, Respond);
  }
  Handler handler = router.AsHandler();
  HttpRequest req;
  req.method = "GET";
  req.path = "/v1/subjects/u-123456";
  for (auto _ : state) {
    handler(req, [](HttpResponse r) { benchmark::DoNotOptimize(r); });
  }
}
BENCHMARK(BM_RouterDispatch);

void BM_CopyTarget(benchmark::State& state) {
  std::string target = "/v1/subjects/u-123456?fields=email,phone,birthdate";
  std::string path, query;
  for (auto _ : state) {
    path.assign(target, 0, 21);
    query.assign(target, 22);
    benchmark::DoNotOptimize(path);
  }
}
BENCHMARK(BM_CopyTarget);

void BM_ParseRequestTarget(benchmark::State& state) {
  std::string target = "/v1/subjects/u-123456?fields=email,phone,birthdate";
  std::string path, query;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParseRequestTarget(target, path, query));
  }
}
BENCHMARK(BM_ParseRequestTarget);

}  // namespace
}  // namespace clover::server

BENCHMARK_MAIN();
