// The /v1 routes behind the console's pages (audit/console_pages.h) through a
// real auditor's router: incidents filtered and paged on the server over
// thousands of incidents, one incident, the entries behind a flow and their
// proofs, and the overview's lag. Every answer is checked against
// docs/openapi.yaml.
#include "audit/console_pages.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/auditor.h"
#include "audit/auditor_fixture.h"
#include "audit/decision_builder.h"
#include "audit/tlog_proof.h"
#include "entry/decision_record.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/bundle.h"
#include "policy/signature.h"
#include "rapidjson/document.h"
#include "server/page_token.h"
#include "tests/openapi_spec.h"

namespace clover::audit {
namespace {

using ::clover::entry::DecisionEntry;
using ::testing::HasSubstr;

constexpr char kPolicy[] = R"(version: 1
description: console pages test policy
rules:
  - id: support-reads-eu
    effect: allow
    when: {principal.role: support, purpose: customer_support, destination: eu}
)";
constexpr char kReadToken[] = "read-token-0123456789abcdef";

rapidjson::Document Parse(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  return d;
}

class ConsolePagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto files = testing::WriteAuditorFiles(dir_, "pages.test", kPolicy);
    ASSERT_TRUE(files.ok()) << files.status();
    policy_ = files->policy.compiled;
    AuditorConfig config = files->config;
    config.logs.push_back(testing::FollowLog(log_, "mem://eu"));
    config.api_credentials = {
        *CredentialForToken("grafana", ApiRole::kRead, kReadToken)};
    auto a = testing::OpenAuditor(config, clock_, log_);
    ASSERT_TRUE(a.ok()) << a.status();
    auditor_ = *std::move(a);
  }

  server::HttpResponse Get(const std::string& path, const std::string& query) {
    server::HttpRequest req;
    req.method = "GET";
    req.path = path;
    req.query = query;
    req.headers["authorization"] = absl::StrCat("Bearer ", kReadToken);
    server::HttpResponse out;
    auditor_->handler()(req,
                        [&](server::HttpResponse r) { out = std::move(r); });
    absl::Status spec =
        api_spec::CheckApiResponse("GET", path, out.status, out.content_type,
                                   out.body, [&out](absl::string_view name) {
                                     for (const auto& [k, v] : out.headers) {
                                       if (absl::EqualsIgnoreCase(k, name))
                                         return v;
                                     }
                                     return std::string();
                                   });
    EXPECT_TRUE(spec.ok()) << path << "?" << query << ": " << spec.message();
    return out;
  }

  // A 4xx with the JSON error body.
  void ExpectRefused(const std::string& path, const std::string& query,
                     int status = 400) {
    server::HttpResponse r = Get(path, query);
    EXPECT_EQ(r.status, status) << path << "?" << query << ": " << r.body;
    rapidjson::Document d = Parse(r.body);
    EXPECT_TRUE(d.IsObject() && d.HasMember("error") &&
                d["error"].HasMember("code"))
        << r.body;
  }

  // Walks every page of `path?query` (with `limit`); returns the items of
  // array `member`, keyed by `key`.
  std::vector<std::string> Walk(const std::string& path,
                                const std::string& query, int limit,
                                const char* member,
                                std::string (*key)(const rapidjson::Value&),
                                int* pages = nullptr) {
    std::vector<std::string> out;
    std::string token;
    for (int n = 1; n < 10000; ++n) {
      std::string q =
          absl::StrCat(query, query.empty() ? "" : "&", "limit=", limit);
      if (!token.empty()) absl::StrAppend(&q, "&page_token=", token);
      server::HttpResponse r = Get(path, q);
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) break;
      rapidjson::Document d = Parse(r.body);
      EXPECT_LE(d[member].Size(), static_cast<unsigned>(limit));
      for (const auto& v : d[member].GetArray()) out.push_back(key(v));
      if (pages != nullptr) *pages = n;
      if (!d.HasMember("next_page_token")) break;
      token = d["next_page_token"].GetString();
    }
    return out;
  }

  testing::TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1796000400)};  // on the hour
  testing::FakeLog log_{"log.test/ie-dub-1"};
  std::shared_ptr<const policy::CompiledPolicy> policy_;
  std::unique_ptr<Auditor> auditor_;
};

std::string IdOf(const rapidjson::Value& v) { return v["id"].GetString(); }
std::string EntryOf(const rapidjson::Value& v) {
  return absl::StrCat(v["origin"].GetString(), "#", v["index"].GetUint64());
}

constexpr const char* kSeverityNames[] = {"low", "medium", "high", "critical"};
constexpr const char* kDetectorNames[] = {"bulk_access", "canary_touched",
                                          "denial_burst"};

TEST_F(ConsolePagesTest, IncidentsAreFilteredAndPagedOnTheServer) {
  // 3,000 incidents over 50 minutes, of every severity and three detectors.
  constexpr int kIncidents = 3000;
  const absl::Time start = clock_.Now();
  std::map<std::string, std::set<std::string>> by_filter;
  std::set<std::string> recent;  // last seen in the last 10 minutes
  for (int i = 0; i < kIncidents; ++i) {
    Finding f;
    f.detector = kDetectorNames[i % 3];
    f.severity = static_cast<Severity>(i % 4);
    f.key = absl::StrCat("k", i);
    f.summary = "s";
    f.time = clock_.Now();
    f.origin = log_.origin();
    auto u = auditor_->incidents().Report(f, {});
    ASSERT_TRUE(u.ok()) << u.status();
    by_filter[absl::StrCat(kSeverityNames[i % 4], "/", kDetectorNames[i % 3])]
        .insert(u->incident.id);
    if (clock_.Now() >= start + absl::Minutes(40))
      recent.insert(u->incident.id);
    if (i % 60 == 59) clock_.Advance(absl::Minutes(1));
  }
  // One filter combination, walked to its end 37 at a time: exactly the
  // incidents it names, each once.
  int pages = 0;
  std::vector<std::string> got =
      Walk("/v1/incidents", "severity=high&detector=canary_touched", 37,
           "incidents", IdOf, &pages);
  const std::set<std::string>& want = by_filter["high/canary_touched"];
  EXPECT_EQ(got.size(), want.size());
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), want);
  EXPECT_EQ(pages, static_cast<int>((want.size() + 36) / 37));
  server::HttpResponse first =
      Get("/v1/incidents", "severity=high&detector=canary_touched&limit=5");
  rapidjson::Document d = Parse(first.body);
  ASSERT_TRUE(d.HasMember("total")) << first.body;
  EXPECT_EQ(d["total"].GetUint64(), want.size());
  for (const auto& i : d["incidents"].GetArray()) {
    EXPECT_STREQ(i["severity"].GetString(), "high");
    EXPECT_STREQ(i["detector"].GetString(), "canary_touched");
  }
  // Time: last seen since, and a status.
  const std::string since = FormatRfc3339Millis(start + absl::Minutes(40));
  got = Walk("/v1/incidents", absl::StrCat("since=", since, "&status=open"),
             1000, "incidents", IdOf);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), recent);
  const std::string until = FormatRfc3339Millis(start + absl::Minutes(1));
  server::HttpResponse early =
      Get("/v1/incidents", absl::StrCat("until=", until, "&limit=1000"));
  EXPECT_EQ(Parse(early.body)["incidents"].Size(), 60u);
  // Everything, the default page: 100 and a token.
  d = Parse(Get("/v1/incidents", "").body);
  EXPECT_EQ(d["incidents"].Size(), 100u);
  EXPECT_EQ(d["total"].GetUint64(), static_cast<uint64_t>(kIncidents));
  const std::string token = d["next_page_token"].GetString();

  // One incident by id; an unknown one is a 404.
  server::HttpResponse one =
      Get(absl::StrCat("/v1/incidents/", *want.begin()), "");
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(Parse(one.body)["id"].GetString(), *want.begin());
  ExpectRefused("/v1/incidents/no-such-incident", "", 404);

  // Bad input is a 400 JSON error, never a 5xx.
  for (const std::string& q : std::vector<std::string>{
           "severity=urgent", "status=closed", "since=yesterday",
           "until=2026-13-01T00:00:00Z",
           absl::StrCat("since=", since, "&until=", since),
           "detector=" + std::string(300, 'x'), "detector=", "limit=0",
           "limit=1001", "page_token=not-a-token"}) {
    ExpectRefused("/v1/incidents", q);
  }
  // A token is bound to its filters: the unfiltered token with a filter,
  // a filtered one without, an altered one and an expired one are refused.
  ExpectRefused("/v1/incidents",
                absl::StrCat("severity=low&page_token=", token));
  std::string filtered =
      Parse(
          Get("/v1/incidents", "severity=low&limit=2").body)["next_page_token"]
          .GetString();
  ExpectRefused("/v1/incidents", absl::StrCat("page_token=", filtered));
  std::string altered = token;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
  ExpectRefused("/v1/incidents", absl::StrCat("page_token=", altered));
  const std::string expired = server::PageTokens::ForProcess().Issue(
      "incidents", "",
      absl::StrCat(server::DescendingKey(absl::ToUnixNanos(start)), "x"),
      absl::Now() - server::kPageTokenLifetime - absl::Minutes(1));
  ExpectRefused("/v1/incidents", absl::StrCat("page_token=", expired));
}

TEST_F(ConsolePagesTest, FlowEntriesDrillDownToVerifiableEntries) {
  // 700 decisions over about 12 hours: to eu (allowed), to us (denied: a
  // transfer out of the region) and for analytics (denied).
  const absl::Time start = clock_.Now();
  std::map<std::string, std::set<std::string>> bucket;  // dest/purpose/effect
  std::map<uint64_t, std::string> raw;
  for (uint64_t i = 0; i < 700; ++i) {
    DecisionEntry e;
    e.time = start + absl::Minutes(i);
    e.node = "ie-dub-1-a";
    e.region = "eu";
    e.principal_id = absl::StrCat("eu-support-", i % 7);
    e.principal_kind = "employee";
    e.principal_org = "clover";
    e.principal_roles = {"support"};
    e.principal_country = "IE";
    e.principal_jurisdiction = "eu";
    e.purpose = i % 5 == 0 ? "analytics" : "customer_support";
    e.action = "read";
    e.destination = i % 3 == 0 ? "us" : "eu";
    e.subject = absl::StrCat("subject-", i);
    e.subject_jurisdiction = "eu";
    e.fields = {{"email", "contact", false, {}, {}, {}},
                {"name", "contact", false, {}, {}, {}}};
    e.records = 1;
    DecideWith(*policy_, &e);
    const std::string effect(policy::ToString(e.fields[0].effect));
    bucket[absl::StrCat(e.destination, "/", e.purpose, "/", effect)].insert(
        absl::StrCat(log_.origin(), "#", i));
    raw[i] = entry::DecisionJson(e);
    log_.Append(raw[i]);
  }
  ASSERT_TRUE(auditor_->PollOnce().ok());
  ASSERT_EQ(bucket["us/customer_support/deny"].size(), 187u);
  ASSERT_EQ(bucket["eu/customer_support/allow"].size(), 373u);
  const std::string window =
      absl::StrCat("from=", FormatRfc3339Millis(start),
                   "&to=", FormatRfc3339Millis(start + absl::Hours(13)));
  // A table row's drill-down, paged 25 at a time: exactly its entries.
  int pages = 0;
  std::vector<std::string> got =
      Walk("/v1/flows/entries",
           absl::StrCat(window,
                        "&destination=us&purpose=customer_support&effect=deny"),
           25, "entries", EntryOf, &pages);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()),
            bucket["us/customer_support/deny"]);
  EXPECT_EQ(got.size(), bucket["us/customer_support/deny"].size());
  EXPECT_EQ(pages, 8);
  got = Walk("/v1/flows/entries",
             absl::StrCat(window, "&destination=eu&effect=allow"), 100,
             "entries", EntryOf);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()),
            bucket["eu/customer_support/allow"]);
  // A chart bar's drill-down: one hour, one effect.
  server::HttpResponse hour =
      Get("/v1/flows/entries",
          absl::StrCat("from=", FormatRfc3339Millis(start + absl::Hours(2)),
                       "&to=", FormatRfc3339Millis(start + absl::Hours(3)),
                       "&effect=allow&category=contact&limit=1000"));
  rapidjson::Document d = Parse(hour.body);
  int allowed_in_hour = 0;
  for (uint64_t i = 120; i < 180; ++i) {
    allowed_in_hour += bucket["eu/customer_support/allow"].count(
        absl::StrCat(log_.origin(), "#", i));
  }
  ASSERT_EQ(d["entries"].Size(), static_cast<unsigned>(allowed_in_hour));
  const auto& e0 = d["entries"][0];
  EXPECT_STREQ(e0["destination"].GetString(), "eu");
  EXPECT_THAT(e0["principal"].GetString(), HasSubstr("eu-support-"));
  EXPECT_EQ(e0["fields"][0]["fields"].GetUint64(), 2u);

  // Each entry links to its exact bytes and a proof that verifies.
  const uint64_t index = e0["index"].GetUint64();
  server::HttpResponse p =
      Get("/v1/flows/entry",
          absl::StrCat("origin=", log_.origin(), "&index=", index));
  ASSERT_EQ(p.status, 200) << p.body;
  rapidjson::Document pd = Parse(p.body);
  EXPECT_EQ(pd["entry"].GetString(), raw[index]);
  auto verifier = log::ParseVerifierKey(log_.key().verifier);
  ASSERT_TRUE(verifier.ok());
  const log::NoteVerifier* vs[] = {verifier->get()};
  EXPECT_TRUE(
      VerifyTlogProof(pd["proof"].GetString(), raw[index], log_.origin(), vs)
          .ok());
  EXPECT_FALSE(VerifyTlogProof(pd["proof"].GetString(), raw[index + 1],
                               log_.origin(), vs)
                   .ok());

  // Bad input: 4xx JSON.
  for (const std::string& q : std::vector<std::string>{
           "effect=maybe", "from=yesterday",
           "destination=", "from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z",
           "from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
           "purpose=" + std::string(300, 'p'), "limit=0",
           "page_token=forged"}) {
    ExpectRefused("/v1/flows/entries", q);
  }
  std::string token =
      Parse(Get("/v1/flows/entries", absl::StrCat(window, "&limit=3"))
                .body)["next_page_token"]
          .GetString();
  // Bound to its bucket and window.
  ExpectRefused("/v1/flows/entries",
                absl::StrCat(window, "&effect=deny&page_token=", token));
  ExpectRefused(
      "/v1/flows/entries",
      absl::StrCat("from=", FormatRfc3339Millis(start), "&page_token=", token,
                   "&to=", FormatRfc3339Millis(start + absl::Hours(14))));
  EXPECT_EQ(Get("/v1/flows/entries", absl::StrCat("page_token=", token)).status,
            200);
  const std::string expired = server::PageTokens::ForProcess().Issue(
      "flow_entries", FlowEntryQuery().Filter(),
      server::JoinCursor(
          {absl::StrCat(absl::ToUnixNanos(start)),
           absl::StrCat(absl::ToUnixNanos(start + absl::Hours(1))), "x"}),
      absl::Now() - server::kPageTokenLifetime - absl::Minutes(1));
  ExpectRefused("/v1/flows/entries", absl::StrCat("page_token=", expired));
  for (const std::string& q : std::vector<std::string>{
           "origin=log.test/ie-dub-1&index=x", "index=1",
           "origin=log.test/ie-dub-1", "origin=log.test/ie-dub-1&index=-1"}) {
    ExpectRefused("/v1/flows/entry", q);
  }
  ExpectRefused("/v1/flows/entry", "origin=log.test/other&index=1", 404);
  ExpectRefused("/v1/flows/entry", "origin=log.test/ie-dub-1&index=700", 404);
}

TEST_F(ConsolePagesTest, OverviewShowsTheLagBehindTheLatestCheckpoint) {
  for (int i = 0; i < 300; ++i) log_.Append(absl::StrCat("{\"n\":", i, "}"));
  ASSERT_TRUE(auditor_->PollOnce().ok());
  const LogFollower& f = *auditor_->followers()[0];
  LogFollower::Lag lag = f.lag();
  EXPECT_EQ(lag.verified_size, 300u);
  EXPECT_EQ(lag.seen_size, 300u);
  EXPECT_EQ(lag.behind_since, absl::InfinitePast());
  EXPECT_THAT(LogLagMembers(f, auditor_->witness()),
              HasSubstr("\"lag_entries\":0,\"lag_seconds\":0"));
  // The log grows, but its new bundle cannot be fetched: the auditor has seen
  // 600 entries signed and verified 300.
  for (int i = 300; i < 600; ++i) log_.Append(absl::StrCat("{\"n\":", i, "}"));
  log_.RefuseBundle(2);
  (void)auditor_->PollOnce();
  clock_.Advance(absl::Seconds(90));
  (void)auditor_->PollOnce();
  lag = f.lag();
  EXPECT_EQ(lag.verified_size, 300u);
  EXPECT_EQ(lag.seen_size, 600u);
  const std::string json = LogLagMembers(f, auditor_->witness());
  EXPECT_THAT(json, HasSubstr("\"lag_entries\":300,\"lag_seconds\":90"));
  EXPECT_THAT(json, HasSubstr("\"witness\":{\"size\":300,"));
  // Caught up: no lag.
  log_.ServeBundle(2);
  ASSERT_TRUE(auditor_->PollOnce().ok());
  EXPECT_THAT(LogLagMembers(f, auditor_->witness()),
              HasSubstr("\"latest_seen_size\":600"));
  EXPECT_THAT(LogLagMembers(f, auditor_->witness()),
              HasSubstr("\"lag_entries\":0,\"lag_seconds\":0"));
  // Open incidents by severity with the nearest deadline.
  std::vector<Incident> list;
  Incident a;
  a.severity = Severity::kHigh;
  a.status = IncidentStatus::kOpen;
  a.notification_deadline = absl::FromUnixSeconds(2000);
  Incident b = a;
  b.notification_deadline = absl::FromUnixSeconds(1000);
  Incident c = a;
  c.status = IncidentStatus::kResolved;
  c.notification_deadline = absl::FromUnixSeconds(500);
  const std::string open = OpenIncidentsMember({a, b, c});
  EXPECT_THAT(open, HasSubstr(absl::StrCat(
                        "\"high\":{\"count\":2,\"nearest_deadline\":\"",
                        FormatRfc3339Millis(absl::FromUnixSeconds(1000)))));
  EXPECT_THAT(open,
              HasSubstr("\"low\":{\"count\":0,\"nearest_deadline\":null}"));
}

}  // namespace
}  // namespace clover::audit
