#include "server/metrics.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::server {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, RendersCountersAndGauges) {
  MetricsRegistry registry;
  auto decisions = registry.AddCounter("clover_decisions_total", "Decisions.",
                                       {"effect", "dest"});
  ASSERT_TRUE(decisions.ok());
  (*decisions)->WithLabels({"allow", "eu"}).Increment();
  (*decisions)->WithLabels({"allow", "eu"}).Increment(2);
  (*decisions)->WithLabels({"deny", "cn"}).Increment();
  auto size = registry.AddGauge("clover_log_size", "Entries in the log.", {});
  ASSERT_TRUE(size.ok());
  (*size)->WithLabels({}).Set(42);
  std::string text = registry.Render();
  EXPECT_EQ(text,
            "# HELP clover_decisions_total Decisions.\n"
            "# TYPE clover_decisions_total counter\n"
            "clover_decisions_total{effect=\"allow\",dest=\"eu\"} 3\n"
            "clover_decisions_total{effect=\"deny\",dest=\"cn\"} 1\n"
            "# HELP clover_log_size Entries in the log.\n"
            "# TYPE clover_log_size gauge\n"
            "clover_log_size 42\n");
}

TEST(MetricsTest, RendersHistogramCumulatively) {
  MetricsRegistry registry;
  auto h =
      registry.AddHistogram("lat_seconds", "Latency.", {"route"}, {0.1, 1});
  ASSERT_TRUE(h.ok());
  Histogram& child = (*h)->WithLabels({"/x"});
  child.Observe(0.05);
  child.Observe(0.5);
  child.Observe(0.5);
  child.Observe(7);
  std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE lat_seconds histogram\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "lat_seconds_bucket{route=\"/x\",le=\"0.10000000000000001\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"));
  EXPECT_THAT(text,
              HasSubstr("lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"));
  EXPECT_THAT(text,
              HasSubstr("lat_seconds_sum{route=\"/x\"} 8.0500000000000007\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_count{route=\"/x\"} 4\n"));
}

TEST(MetricsTest, EscapesLabelValuesAndToleratesWrongArity) {
  MetricsRegistry registry;
  auto c =
      registry.AddCounter("c_total", "Help with \\ and\nnewline.", {"a", "b"});
  ASSERT_TRUE(c.ok());
  (*c)->WithLabels({"q\"u\\o\nte"}).Increment();        // missing value -> ""
  (*c)->WithLabels({"x", "y", "ignored"}).Increment();  // extra ignored
  std::string text = registry.Render();
  EXPECT_THAT(text,
              HasSubstr("# HELP c_total Help with \\\\ and\\nnewline.\n"));
  EXPECT_THAT(text, HasSubstr("c_total{a=\"q\\\"u\\\\o\\nte\",b=\"\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("c_total{a=\"x\",b=\"y\"} 1\n"));
}

TEST(MetricsTest, RejectsBadNamesAndDuplicates) {
  MetricsRegistry registry;
  EXPECT_FALSE(registry.AddCounter("1abc", "", {}).ok());
  EXPECT_FALSE(registry.AddCounter("a-b", "", {}).ok());
  EXPECT_FALSE(registry.AddCounter("ok", "", {"le"}).ok());
  EXPECT_FALSE(registry.AddCounter("ok", "", {"__x"}).ok());
  EXPECT_TRUE(registry.AddCounter("ok", "", {"x"}).ok());
  EXPECT_EQ(registry.AddGauge("ok", "", {}).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(registry.AddHistogram("h", "", {}, {1, 0.5}).ok());
}

TEST(MetricsTest, ConcurrentIncrementsAreAllCounted) {
  MetricsRegistry registry;
  auto c = registry.AddCounter("n_total", "", {"k"});
  auto h = registry.AddHistogram("d_seconds", "", {"k"});
  ASSERT_TRUE(c.ok() && h.ok());
  constexpr int kThreads = 4, kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        (*c)->WithLabels({"same"}).Increment();
        (*h)->WithLabels({"same"}).Observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ((*c)->WithLabels({"same"}).Value(),
            uint64_t{kThreads * kPerThread});
  EXPECT_EQ((*h)->WithLabels({"same"}).Read().count,
            uint64_t{kThreads * kPerThread});
}

TEST(HttpMetricsTest, LabelsByMethodRouteStatus) {
  MetricsRegistry registry;
  auto m = HttpMetrics::Create(registry);
  ASSERT_TRUE(m.ok());
  auto child = (*m)->Get("GET", "/v1/subjects/{id}", 200);
  child.requests->Increment();
  child.duration->Observe(0.002);
  (*m)->Get("POST", "", 413).requests->Increment();
  std::string text = registry.Render();
  EXPECT_THAT(
      text,
      HasSubstr(
          "clover_http_requests_total{method=\"GET\",route=\"/v1/subjects/"
          "{id}\",status=\"200\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("clover_http_requests_total{method=\"POST\",route=\"none\","
                "status=\"413\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("clover_http_request_duration_seconds_count{method=\"GET\","
                "route=\"/v1/subjects/{id}\",status=\"200\"} 1\n"));
}

// Issue 17: every method name a client sent became a label value.
TEST(HttpMetricsTest, MethodLabelIsBounded) {
  MetricsRegistry registry;
  auto m = HttpMetrics::Create(registry);
  ASSERT_TRUE(m.ok());
  for (int i = 0; i < 1000; ++i) {
    (*m)->Get(absl::StrCat("X", i), "", 405).requests->Increment();
  }
  (*m)->Get("get", "", 405).requests->Increment();
  (*m)->Get("PROPFIND", "", 405).requests->Increment();
  std::string text = registry.Render();
  EXPECT_THAT(text,
              HasSubstr("clover_http_requests_total{method=\"other\",route="
                        "\"none\",status=\"405\"} 1002\n"));
  EXPECT_EQ(text.find("X999"), std::string::npos);
  EXPECT_EQ(text.find("PROPFIND"), std::string::npos);
  EXPECT_LT(text.size(), 8 * 1024u);
  for (absl::string_view known : {"GET", "HEAD", "POST", "PUT", "DELETE",
                                  "PATCH", "OPTIONS", "TRACE", "CONNECT"}) {
    EXPECT_EQ(HttpMetrics::MethodLabel(known), known);
  }
  EXPECT_EQ(HttpMetrics::MethodLabel(""), "");
}

}  // namespace
}  // namespace clover::server
