// Flows by origin region (issue 22): which flows leave their region, the
// stored rows of older auditors, the region label of the metrics, and
// retention of the totals and of the flow entry index.
#include "audit/flows.h"

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/audit_config.h"
#include "audit/console_pages.h"
#include "audit/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kv/kv_store.h"
#include "rapidjson/document.h"
#include "server/metrics.h"

namespace clover::audit {
namespace {

using ::clover::entry::DecisionEntry;
using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kT0 = absl::FromUnixSeconds(1795000000);

DecisionEntry Decision(absl::Time t, const std::string& region,
                       const std::string& destination) {
  DecisionEntry e;
  e.time = t;
  e.node = region + "-node";
  e.region = region;
  e.principal_id = "p";
  e.principal_kind = "employee";
  e.purpose = "customer_support";
  e.action = "read";
  e.destination = destination;
  e.subject = "s";
  e.subject_jurisdiction = region;
  e.fields = {{"email", "contact", true, policy::Effect::kAllow, {}, {}}};
  e.records = 1;
  e.bytes = 10;
  return e;
}

std::unique_ptr<kv::KvStore> OpenStore(const testing::TempDir& dir) {
  auto kv = kv::KvStore::Open(dir.path() + "/store");
  EXPECT_TRUE(kv.ok()) << kv.status();
  return *std::move(kv);
}

// The flows and transfers rows of `json` as parsed objects.
rapidjson::Document Parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  EXPECT_FALSE(d.HasParseError()) << json;
  return d;
}

// The out_of_region of the transfer row from `region` to `destination`:
// "true", "false", "null", or "missing".
std::string OutOf(const rapidjson::Document& d, const char* array,
                  const std::string& region, const std::string& destination) {
  for (const auto& r : d[array].GetArray()) {
    if (r["region"].GetString() != region ||
        r["destination"].GetString() != destination) {
      continue;
    }
    if (!r.HasMember("out_of_region")) return "no member";
    const auto& v = r["out_of_region"];
    return v.IsNull() ? "null" : (v.GetBool() ? "true" : "false");
  }
  return "missing";
}

// The constant the console had (HOME_REGION = "eu") called the US node's own
// US traffic a transfer out of the region and an EU transfer to the US seen
// elsewhere in-region. The origin region decides.
TEST(FlowRegionTest, OutOfRegionIsJudgedByTheOriginRegion) {
  FlowStats f;
  f.Add(Decision(kT0, "us", "us"));  // a US node, US staff
  f.Add(Decision(kT0, "eu", "us"));  // an EU node serving US staff
  f.Add(Decision(kT0, "eu", "eu"));
  f.Add(Decision(kT0, "us", "eu"));
  const rapidjson::Document d =
      Parse(f.ToJson(kT0 - absl::Hours(1), kT0 + absl::Hours(1)));
  for (const char* array : {"flows", "transfers"}) {
    EXPECT_EQ(OutOf(d, array, "us", "us"), "false") << array;
    EXPECT_EQ(OutOf(d, array, "eu", "us"), "true") << array;
    EXPECT_EQ(OutOf(d, array, "eu", "eu"), "false") << array;
    EXPECT_EQ(OutOf(d, array, "us", "eu"), "true") << array;
  }
  EXPECT_EQ(f.flows().size(), 4u);
  EXPECT_EQ(f.transfers().size(), 4u);
}

// Jurisdictions stored in a region (flows.regions) are not out of it; the
// origin region given (the log's configured region) wins over the entry's.
TEST(FlowRegionTest, DestinationsMapToRegionsAndConfiguredOriginWins) {
  FlowOptions o;
  o.destination_regions = {{"uk", "eu"}, {"ch", "eu"}};
  EXPECT_EQ(DestinationRegion(o, "uk"), "eu");
  EXPECT_EQ(DestinationRegion(o, "us"), "us");
  FlowStats f;
  f.set_options(o);
  f.Add(Decision(kT0, "eu", "uk"));
  f.Add(Decision(kT0, "eu", "cn"));
  f.Add(Decision(kT0, "eu", "us"), "us");  // a node in "us" stating "eu"
  const rapidjson::Document d =
      Parse(f.ToJson(kT0 - absl::Hours(1), kT0 + absl::Hours(1)));
  EXPECT_EQ(OutOf(d, "transfers", "eu", "uk"), "false");
  EXPECT_EQ(OutOf(d, "transfers", "eu", "cn"), "true");
  EXPECT_EQ(OutOf(d, "transfers", "us", "us"), "false");
  EXPECT_EQ(OutOf(d, "transfers", "eu", "us"), "missing");
  EXPECT_EQ(RegionMembers(o, "eu", "uk"),
            R"(,"destination_region":"eu","out_of_region":false)");
  EXPECT_EQ(RegionMembers(o, "", "uk"),
            R"(,"destination_region":"eu","out_of_region":null)");
}

// Rows stored by an auditor from before flows had a region still load, as
// region "" (unknown, out_of_region null), next to new rows; nothing is
// dropped, and they are kept apart from the rows of a known region.
TEST(FlowRegionTest, LoadsRowsOfTheOldFormat) {
  testing::TempDir dir;
  auto kv = OpenStore(dir);
  const uint64_t hour = static_cast<uint64_t>(UnixHour(kT0));
  kv::KvBatch old;
  old.Put(absl::StrCat("flow/", kv::EncodeKeyU64(hour),
                       "us\x1f"
                       "contact\x1f"
                       "customer_support\x1f"
                       "allow"),
          "3 7");
  old.Put(absl::StrCat("xfer/", kv::EncodeKeyU64(hour),
                       "us\x1f"
                       "customer_support\x1f"
                       "read"),
          "2 5 100");
  ASSERT_TRUE(kv->Write(old).ok());
  {
    FlowStats f;
    ASSERT_TRUE(f.Load(*kv).ok());
    ASSERT_EQ(f.flows().size(), 1u);
    EXPECT_EQ(f.flows().begin()->first.region, "");
    EXPECT_EQ(f.flows().begin()->first.destination, "us");
    EXPECT_EQ(f.flows().begin()->second.decisions, 3u);
    EXPECT_EQ(f.flows().begin()->second.values, 7u);
    ASSERT_EQ(f.transfers().size(), 1u);
    EXPECT_EQ(f.transfers().begin()->second.bytes, 100u);
    // New decisions of the same hour and bucket, with a region.
    f.Add(Decision(kT0, "us", "us"));
    kv::KvBatch b;
    f.Flush(b);
    ASSERT_TRUE(kv->Write(b).ok());
  }
  FlowStats f;
  ASSERT_TRUE(f.Load(*kv).ok());
  const std::string json = f.ToJson(kT0 - absl::Hours(1), kT0 + absl::Hours(1));
  const rapidjson::Document d = Parse(json);
  EXPECT_EQ(OutOf(d, "transfers", "", "us"), "null");
  EXPECT_EQ(OutOf(d, "transfers", "us", "us"), "false");
  EXPECT_EQ(OutOf(d, "flows", "", "us"), "null");
  EXPECT_THAT(json, HasSubstr("\"requests\":2,\"records\":5,\"bytes\":100"));
  EXPECT_THAT(json, HasSubstr("\"requests\":1,\"records\":1,\"bytes\":10"));
  EXPECT_EQ(f.flows().size(), 2u);
  EXPECT_EQ(f.transfers().size(), 2u);

  // A corrupt row is still an error, not a silent drop.
  ASSERT_TRUE(kv->Put(absl::StrCat("xfer/", kv::EncodeKeyU64(hour),
                                   "only\x1f"
                                   "two"),
                      "1 1 1")
                  .ok());
  FlowStats g;
  EXPECT_EQ(g.Load(*kv).code(), absl::StatusCode::kDataLoss);
}

TEST(FlowRegionTest, MetricsCarryTheOriginRegion) {
  server::MetricsRegistry reg;
  auto* decisions = *reg.AddCounter(
      "d_total", "d",
      {"region", "destination", "category", "purpose", "effect"});
  auto* bytes = *reg.AddCounter("b_total", "b",
                                {"region", "destination", "purpose", "action"});
  FlowStats f;
  f.Add(Decision(kT0, "us", "us"));
  f.PublishMetrics(*decisions, *bytes);
  const std::string text = reg.Render();
  EXPECT_THAT(text, HasSubstr("d_total{region=\"us\",destination=\"us\","
                              "category=\"contact\""));
  EXPECT_THAT(text, HasSubstr("b_total{region=\"us\",destination=\"us\","
                              "purpose=\"customer_support\",action=\"read\"} "
                              "10"));
}

// Totals older than the retention go, a bounded number per pass; totals
// within it are unchanged, in memory and in the store (old-format rows too).
TEST(FlowRetentionTest, PrunesOldTotalsIncrementally) {
  testing::TempDir dir;
  auto kv = OpenStore(dir);
  FlowOptions o;
  o.retention = absl::Hours(24 * 10);
  o.prune_rows_per_pass = 2;
  FlowStats f;
  f.set_options(o);
  const absl::Time now = kT0 + absl::Hours(24 * 30);  // the injected clock
  for (int d = 0; d < 3; ++d) {  // three old days, one row each
    f.Add(Decision(kT0 + absl::Hours(24 * d), "eu", "us"));
  }
  f.Add(Decision(now - absl::Hours(24 * 9), "eu", "eu"));  // recent
  f.Add(Decision(now - absl::Hours(24 * 9), "eu", "eu"));
  f.Add(Decision(now - absl::Hours(1), "us", "us"));
  kv::KvBatch b;
  f.Flush(b);
  // An old-format row past the retention.
  b.Put(absl::StrCat("xfer/",
                     kv::EncodeKeyU64(static_cast<uint64_t>(UnixHour(kT0))),
                     "cn\x1f"
                     "analytics\x1f"
                     "export"),
        "1 1 1");
  ASSERT_TRUE(kv->Write(b).ok());
  FlowStats g;
  g.set_options(o);
  ASSERT_TRUE(g.Load(*kv).ok());
  ASSERT_EQ(g.transfers().size(), 6u);
  const std::string recent_before = g.ToJson(now - absl::Hours(24 * 10), now);

  // Two rows of each kind per pass: 3 old flows, 4 old transfers.
  kv::KvBatch p1;
  EXPECT_EQ(g.Prune(now, p1), 4u);
  ASSERT_TRUE(kv->Write(p1).ok());
  kv::KvBatch p2;
  EXPECT_EQ(g.Prune(now, p2), 3u);
  ASSERT_TRUE(kv->Write(p2).ok());
  kv::KvBatch p3;
  EXPECT_EQ(g.Prune(now, p3), 0u);
  EXPECT_TRUE(p3.empty());
  EXPECT_EQ(g.transfers().size(), 2u);
  EXPECT_EQ(g.flows().size(), 2u);
  EXPECT_EQ(g.ToJson(now - absl::Hours(24 * 10), now), recent_before);
  EXPECT_THAT(g.ToJson(kT0 - absl::Hours(1), kT0 + absl::Hours(24 * 3)),
              HasSubstr("\"flows\":[],\"transfers\":[]"));

  // The store agrees: a restart loads only what is within the retention.
  FlowStats h;
  h.set_options(o);
  ASSERT_TRUE(h.Load(*kv).ok());
  EXPECT_EQ(h.flows().size(), 2u);
  EXPECT_EQ(h.transfers().size(), 2u);
  EXPECT_EQ(h.ToJson(now - absl::Hours(24 * 10), now), recent_before);
  EXPECT_THAT(recent_before, HasSubstr("\"decisions\":2,\"values\":2"));
}

// The per-entry index is pruned oldest first, at most max_rows per call,
// and the entries of hours within the retention stay listed.
TEST(FlowRetentionTest, PrunesTheEntryIndexIncrementally) {
  testing::TempDir dir;
  auto kv = OpenStore(dir);
  const absl::Time now = kT0 + absl::Hours(24 * 100);
  kv::KvBatch b;
  for (uint64_t i = 0; i < 5; ++i) {
    IndexFlowEntry("log.test/a", i, Decision(kT0 + absl::Hours(i), "eu", "us"),
                   "eu", b);
  }
  for (uint64_t i = 5; i < 7; ++i) {
    IndexFlowEntry("log.test/a", i,
                   Decision(now - absl::Hours(24 * 89), "us", "us"), "us", b);
  }
  ASSERT_TRUE(kv->Write(b).ok());
  const absl::Time cutoff = now - absl::Hours(24 * 90);
  size_t total = 0;
  for (size_t want : {3u, 2u, 0u}) {
    kv::KvBatch p;
    absl::StatusOr<size_t> n = PruneFlowEntries(*kv, cutoff, 3, p);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, want);
    EXPECT_EQ(p.size(), want);
    if (!p.empty()) {
      ASSERT_TRUE(kv->Write(p).ok());
    }
    total += *n;
  }
  EXPECT_EQ(total, 5u);
  FlowEntryQuery q;
  q.from = kT0 - absl::Hours(1);
  q.to = now;
  absl::StatusOr<FlowEntryPage> page = ListFlowEntries(*kv, q, 100, "");
  ASSERT_TRUE(page.ok());
  rapidjson::Document d = Parse(page->json);
  ASSERT_EQ(d["entries"].Size(), 2u);
  for (const auto& e : d["entries"].GetArray()) {
    EXPECT_GE(e["index"].GetUint64(), 5u);
    EXPECT_EQ(std::string(e["origin_region"].GetString()), "us");
    EXPECT_FALSE(e["out_of_region"].GetBool());
  }
}

// The entry index says each entry's origin region and whether it left it,
// rows indexed before origin_region existed take the entry's region, and the
// origin region filters.
TEST(FlowRegionTest, EntryIndexRowsSayTheirOriginRegion) {
  testing::TempDir dir;
  auto kv = OpenStore(dir);
  kv::KvBatch b;
  IndexFlowEntry("log.test/us", 0, Decision(kT0, "us", "us"), "us", b);
  IndexFlowEntry("log.test/eu", 0, Decision(kT0, "eu", "us"), "eu", b);
  ASSERT_TRUE(kv->Write(b).ok());
  // A row as the previous auditor wrote it: no origin_region.
  ASSERT_TRUE(kv->Put(absl::StrCat("flowent/",
                                   kv::EncodeKeyU64(
                                       static_cast<uint64_t>(UnixHour(kT0))),
                                   "log.test/old\x1f", kv::EncodeKeyU64(0)),
                      R"({"origin":"log.test/old","index":0,"time":"x",)"
                      R"("destination":"us","region":"eu","fields":[]})")
                  .ok());
  FlowEntryQuery q;
  q.from = kT0 - absl::Hours(1);
  q.to = kT0 + absl::Hours(1);
  absl::StatusOr<FlowEntryPage> page = ListFlowEntries(*kv, q, 100, "");
  ASSERT_TRUE(page.ok());
  rapidjson::Document d = Parse(page->json);
  ASSERT_EQ(d["entries"].Size(), 3u);
  std::map<std::string, std::pair<std::string, bool>> got;
  for (const auto& e : d["entries"].GetArray()) {
    got[e["origin"].GetString()] = {e["origin_region"].GetString(),
                                    e["out_of_region"].GetBool()};
  }
  EXPECT_EQ(got["log.test/us"], std::make_pair(std::string("us"), false));
  EXPECT_EQ(got["log.test/eu"], std::make_pair(std::string("eu"), true));
  EXPECT_EQ(got["log.test/old"], std::make_pair(std::string("eu"), true));
  q.region = "us";
  page = ListFlowEntries(*kv, q, 100, "");
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(page->json, HasSubstr("log.test/us"));
  EXPECT_THAT(page->json, Not(HasSubstr("log.test/eu")));
  EXPECT_NE(q.Filter(), FlowEntryQuery{}.Filter());
}

// `flows:` and `logs[].region` of the auditor config: defaults, days or
// durations, the region map, and what is refused.
TEST(FlowConfigTest, LoadsRegionsAndRetention) {
  testing::TempDir dir;
  auto log_key = testing::MakeKey("log.test/a");
  auto pkey = testing::MakeKey("auditor.test");
  const std::string base = absl::StrCat(R"(auditor:
  name: auditor.test
  listen: 127.0.0.1:0
  data_dir: data
  witness_key_file: w.key
  journal_key_file: j.key
  insecure_no_auth: true
logs:
  - origin: log.test/a
    url: http://127.0.0.1:1/log
    region: us
    verifier_keys: [")",
                                        log_key.verifier, R"("]
policies:
  bundles: [policy.yaml]
  auditor_keys: [")",
                                        pkey.verifier, R"("]
principals:
  file: principals.yaml
  jurisdictions: jurisdictions.yaml
)");
  auto load = [&](const std::string& flows) {
    std::ofstream(dir.Sub("audit.yaml")) << base << flows;
    return LoadAuditorConfig(dir.Sub("audit.yaml"));
  };
  auto c = load("");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->logs[0].region, "us");
  EXPECT_EQ(c->flows.retention, absl::Hours(24 * 400));
  EXPECT_EQ(c->flows.entry_retention, absl::Hours(24 * 90));
  EXPECT_TRUE(c->flows.destination_regions.empty());
  c = load(
      "flows:\n  regions: {eu: [eu, uk, ch], us: [us]}\n"
      "  retention: 30d\n  entry_retention: 36h\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->flows.retention, absl::Hours(24 * 30));
  EXPECT_EQ(c->flows.entry_retention, absl::Hours(36));
  EXPECT_EQ(DestinationRegion(c->flows, "uk"), "eu");
  EXPECT_EQ(DestinationRegion(c->flows, "us"), "us");
  EXPECT_EQ(DestinationRegion(c->flows, "cn"), "cn");
  for (const std::string bad :
       {"flows:\n  regions: {eu: [eu], us: [eu]}\n",
        "flows:\n  regions: [eu]\n", "flows:\n  regions: {eu: eu}\n",
        "flows:\n  retention: 0d\n", "flows:\n  retention: 10m\n",
        "flows:\n  retention: forever\n", "flows:\n  keep: 1d\n"}) {
    auto refused = load(bad);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
    EXPECT_THAT(refused.status().message(), HasSubstr("flows")) << bad;
  }
}

}  // namespace
}  // namespace clover::audit
