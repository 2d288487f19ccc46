// Flows through a whole Auditor on an injected clock: the origin region comes
// from the log's configured region, and retention prunes old totals and
// index rows a bounded number per polling round while totals within the
// retention stay as they were.
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "audit/auditor.h"
#include "audit/auditor_fixture.h"
#include "audit/decision_builder.h"
#include "audit/report.h"
#include "audit/test_util.h"
#include "core/clock.h"
#include "core/rfc3339.h"
#include "entry/decision_record.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace clover::audit {
namespace {

using ::clover::entry::DecisionEntry;
using ::testing::HasSubstr;

constexpr char kPolicy[] = R"(version: 1
description: flows retention test policy
rules:
  - id: support-reads
    effect: allow
    when: {principal.role: support, purpose: customer_support}
)";
class FlowsAuditorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto files = testing::WriteAuditorFiles(dir_, "flows.test", kPolicy);
    ASSERT_TRUE(files.ok()) << files.status();
    policy_ = files->policy.compiled;
    config_ = files->config;
    AuditorLogConfig l = testing::FollowLog(log_, "mem://us");
    l.region = "us";  // the deployment says: this is the US node's log
    config_.logs.push_back(l);
    config_.api_credentials = testing::AdminAndReadCredentials();
    config_.flows.retention = absl::Hours(24 * 10);
    config_.flows.entry_retention = absl::Hours(24 * 2);
    config_.flows.prune_rows_per_pass = 3;
    auto a = testing::OpenAuditor(config_, clock_, log_);
    ASSERT_TRUE(a.ok()) << a.status();
    auditor_ = *std::move(a);
  }

  // A US staff read decided at `t`; the entry states region `stated`.
  void Log(absl::Time t, const std::string& stated,
           const std::string& destination) {
    DecisionEntry e;
    e.time = t;
    e.node = "us-tx-1-a";
    e.region = stated;
    e.principal_id = "us-support-1";
    e.principal_kind = "employee";
    e.principal_org = "clover";
    e.principal_roles = {"support"};
    e.principal_country = "US";
    e.principal_jurisdiction = destination;
    e.purpose = "customer_support";
    e.action = "read";
    e.destination = destination;
    e.subject = absl::StrCat("subject-", n_++);
    e.subject_jurisdiction = "us";
    e.fields = {{"email", "contact", false, {}, {}, {}},
                {"name", "contact", false, {}, {}, {}}};
    e.records = 1;
    e.bytes = 10;
    DecideWith(*policy_, &e);
    log_.Append(entry::DecisionJson(e));
  }

  rapidjson::Document Get(const std::string& path, const std::string& query) {
    server::HttpRequest req;
    req.method = "GET";
    req.path = path;
    req.query = query;
    req.headers["authorization"] = absl::StrCat("Bearer ", testing::kReadToken);
    server::HttpResponse out;
    auditor_->handler()(req,
                        [&](server::HttpResponse r) { out = std::move(r); });
    EXPECT_EQ(out.status, 200) << out.body;
    rapidjson::Document d;
    d.Parse(out.body.c_str());
    return d;
  }
  static std::string Window(absl::Time from, absl::Time to) {
    return absl::StrCat("from=", FormatRfc3339Millis(from),
                        "&to=", FormatRfc3339Millis(to));
  }

  testing::TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1796000400)};  // on the hour
  testing::FakeLog log_{"log.test/us-tx-1"};
  AuditorConfig config_;
  std::shared_ptr<const policy::CompiledPolicy> policy_;
  std::unique_ptr<Auditor> auditor_;
  int n_ = 0;
};

// The US node's log is attributed to region "us" (its configured region)
// even where an entry states "eu": its reads to "us" stay in the region,
// while its transfer to "eu" leaves it.
TEST_F(FlowsAuditorTest, TheLogsConfiguredRegionIsTheOrigin) {
  const absl::Time t = clock_.Now() - absl::Minutes(30);
  Log(t, "us", "us");
  Log(t, "eu", "us");
  Log(t, "us", "eu");
  ASSERT_TRUE(auditor_->PollOnce().ok());
  const std::string json =
      auditor_->FlowsJson(t - absl::Hours(1), t + absl::Hours(1));
  EXPECT_THAT(json, HasSubstr("\"region\":\"us\",\"destination\":\"us\""));
  EXPECT_THAT(json, HasSubstr("\"region\":\"us\",\"destination\":\"eu\""));
  EXPECT_THAT(json, ::testing::Not(HasSubstr("\"region\":\"eu\"")));
  EXPECT_THAT(json, HasSubstr("\"requests\":2,\"records\":2,\"bytes\":20,"
                              "\"destination_region\":\"us\","
                              "\"out_of_region\":false}"));
  EXPECT_THAT(json, HasSubstr("\"requests\":1,\"records\":1,\"bytes\":10,"
                              "\"destination_region\":\"eu\","
                              "\"out_of_region\":true}"));
  EXPECT_THAT(auditor_->metrics().Render(),
              HasSubstr("clover_audit_flow_bytes_total{region=\"us\","
                        "destination=\"us\",purpose=\"customer_support\","
                        "action=\"read\"} 20"));
  // The drill-down agrees, and filters by origin region.
  rapidjson::Document d =
      Get("/v1/flows/entries",
          Window(t - absl::Hours(1), t + absl::Hours(1)) + "&region=us");
  ASSERT_EQ(d["entries"].Size(), 3u);
  for (const auto& e : d["entries"].GetArray()) {
    EXPECT_EQ(std::string(e["origin_region"].GetString()), "us");
    EXPECT_EQ(e["out_of_region"].GetBool(),
              std::string(e["destination"].GetString()) == "eu");
  }
  d = Get("/v1/flows/entries",
          Window(t - absl::Hours(1), t + absl::Hours(1)) + "&region=eu");
  EXPECT_EQ(d["entries"].Size(), 0u);

  // The static report's transfer table: origin region, destination, out of
  // the region; its JSON carries the same rows as /v1/flows.
  absl::StatusOr<ReportFiles> files = WriteAuditReport(
      config_, t - absl::Hours(1), t + absl::Hours(1), dir_.Sub("report"));
  ASSERT_TRUE(files.ok()) << files.status();
  std::ifstream h(files->html), j(files->json);
  std::stringstream hs, js;
  hs << h.rdbuf();
  js << j.rdbuf();
  EXPECT_THAT(hs.str(), HasSubstr("<th>origin region</th><th>destination</th>"
                                  "<th>out of the region</th>"));
  EXPECT_THAT(hs.str(), HasSubstr("<tr><td>us</td><td>us</td><td>no</td>"));
  EXPECT_THAT(
      hs.str(),
      HasSubstr("<tr class=\"out\"><td>us</td><td>eu</td><td>yes</td>"));
  EXPECT_THAT(js.str(), HasSubstr("\"out_of_region\":true,\"purpose\":"
                                  "\"customer_support\",\"records\":1,"
                                  "\"region\":\"us\""));
}

TEST_F(FlowsAuditorTest, RetentionPrunesOldRowsAFewPerRound) {
  const absl::Time now = clock_.Now();
  const absl::Time old = now - absl::Hours(24 * 20);  // past both
  const absl::Time mid = now - absl::Hours(24 * 5);   // past entry_retention
  const absl::Time recent = now - absl::Minutes(30);
  for (int h = 0; h < 5; ++h) Log(old + absl::Hours(h), "us", "us");
  Log(mid, "us", "us");
  Log(mid, "us", "us");
  Log(recent, "us", "us");
  Log(recent, "us", "eu");
  // Round 1 processes the entries, then prunes 3 of the 5 old hours' totals
  // (flows and transfers each) and 3 of the 7 old index rows.
  ASSERT_TRUE(auditor_->PollOnce().ok());
  const std::string kept =
      auditor_->FlowsJson(now - absl::Hours(24 * 10), now + absl::Hours(1));
  EXPECT_THAT(kept, HasSubstr("\"requests\":2,\"records\":2,\"bytes\":20"));
  auto old_rows = [&] {
    rapidjson::Document d;
    const std::string j = auditor_->FlowsJson(old, old + absl::Hours(5));
    d.Parse(j.c_str());
    return std::make_pair(d["flows"].Size(), d["transfers"].Size());
  };
  EXPECT_EQ(old_rows(), std::make_pair(2u, 2u));
  // Round 2: the rest of the old totals; round 3: the last index row.
  ASSERT_TRUE(auditor_->PollOnce().ok());
  EXPECT_EQ(old_rows(), std::make_pair(0u, 0u));
  ASSERT_TRUE(auditor_->PollOnce().ok());
  // Totals within the retention are unchanged, the mid hour's included.
  EXPECT_EQ(
      auditor_->FlowsJson(now - absl::Hours(24 * 10), now + absl::Hours(1)),
      kept);
  // The index keeps only what is within entry_retention.
  EXPECT_EQ(Get("/v1/flows/entries",
                Window(old - absl::Hours(1), now + absl::Hours(1)))["entries"]
                .Size(),
            2u);
  EXPECT_EQ(Get("/v1/flows/entries",
                Window(mid - absl::Hours(1), mid + absl::Hours(1)))["entries"]
                .Size(),
            0u);

  // What was pruned is gone from the store: a restarted auditor agrees.
  testing::ReopenAuditor(config_, clock_, log_, &auditor_);
  ASSERT_NE(auditor_, nullptr);
  EXPECT_EQ(old_rows(), std::make_pair(0u, 0u));
  EXPECT_EQ(
      auditor_->FlowsJson(now - absl::Hours(24 * 10), now + absl::Hours(1)),
      kept);
}

}  // namespace
}  // namespace clover::audit
