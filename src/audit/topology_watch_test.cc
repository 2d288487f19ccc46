#include "audit/topology_watch.h"

#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "audit/audit_config.h"
#include "audit/auditor.h"
#include "audit/auditor_fixture.h"
#include "crypto/ed25519.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "log/note.h"
#include "server/http.h"
#include "server/http_server.h"

namespace clover::audit {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using testing::WriteFile;

// A Patroni REST API answering GET /cluster with what the test sets.
class FakePatroni {
 public:
  FakePatroni() {
    auto s = server::HttpServer::Start(
        {}, [this](server::HttpRequest& req, server::Responder respond) {
          absl::MutexLock lock(&mu_);
          if (req.path != "/cluster" || status_ != 200) {
            return respond(server::HttpResponse::Json(
                status_ != 200 ? status_ : 404, "{}"));
          }
          respond(server::HttpResponse::Json(200, body_));
        });
    EXPECT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
  }
  std::string url() const {
    return absl::StrCat("http://127.0.0.1:", server_->port());
  }
  // Members as (name, host, port, role).
  void SetMembers(
      const std::vector<std::tuple<std::string, std::string, int, std::string>>&
          members) {
    std::string body = R"({"members":[)";
    for (size_t i = 0; i < members.size(); ++i) {
      const auto& [name, host, port, role] = members[i];
      absl::StrAppend(&body, i ? "," : "", R"({"name":")", name,
                      R"(","host":")", host, R"(","port":)", port,
                      R"(,"role":")", role, R"(","state":"streaming"})");
    }
    body += "]}";
    absl::MutexLock lock(&mu_);
    body_ = body;
    status_ = 200;
  }
  void Fail(int status) {
    absl::MutexLock lock(&mu_);
    status_ = status;
  }

 private:
  absl::Mutex mu_;
  std::string body_ ABSL_GUARDED_BY(mu_) = R"({"members":[]})";
  int status_ ABSL_GUARDED_BY(mu_) = 200;
  std::unique_ptr<server::HttpServer> server_;
};

const std::vector<std::tuple<std::string, std::string, int, std::string>>
    kDeclared = {{"ie-dub-1", "10.0.1.10", 5432, "leader"},
                 {"ie-dub-2", "10.0.2.10", 5432, "sync_standby"},
                 {"no-ham-1", "10.0.3.10", 5432, "replica"}};

RegionTopologyConfig Eu(const std::string& patroni_url) {
  RegionTopologyConfig c;
  c.region.id = "eu";
  c.region.dcs = {{"ie-dub-1", "IE", "", {"10.0.1.10:5432"}},
                  {"ie-dub-2", "IE", "", {"10.0.2.10:5432"}},
                  {"no-ham-1", "NO", "", {"10.0.3.10:5432"}}};
  // An unreachable API first: the next one answers.
  c.patroni_urls = {"http://127.0.0.1:1", patroni_url};
  return c;
}

std::vector<std::tuple<std::string, std::string, int, std::string>>
WithUsEast() {
  auto m = kDeclared;
  m.emplace_back("us-east-1", "172.16.9.9", 5432, "replica");
  return m;
}

TEST(TopologyWatchTest, OneFindingPerViolationEpisode) {
  FakePatroni patroni;
  patroni.SetMembers(kDeclared);
  TopologyWatch watch({Eu(patroni.url())}, absl::Seconds(2));
  const absl::Time now = absl::Now();
  EXPECT_THAT(watch.Check(now), IsEmpty());
  EXPECT_EQ(watch.checks(), 1u);

  // A standby in us-east joins: reported once, with what and where.
  patroni.SetMembers(WithUsEast());
  std::vector<Finding> found = watch.Check(now);
  ASSERT_THAT(found, SizeIs(1));
  const Finding& f = found[0];
  EXPECT_EQ(f.detector, kDetectorTopologyViolation);
  EXPECT_EQ(f.severity, Severity::kHigh);
  EXPECT_EQ(f.key, "topology_violation/eu/member us-east-1");
  EXPECT_THAT(f.summary, HasSubstr("member us-east-1"));
  EXPECT_THAT(f.summary, HasSubstr("172.16.9.9:5432"));
  ASSERT_THAT(f.evidence, SizeIs(1));
  EXPECT_THAT(f.evidence[0].note, HasSubstr("not a declared DC of region eu"));
  EXPECT_THAT(f.evidence[0].note,
              HasSubstr("declared: ie-dub-1, ie-dub-2, no-ham-1"));
  // Still there: the same episode, nothing new.
  EXPECT_THAT(watch.Check(now), IsEmpty());
  // An outage of the API says nothing about residency: no finding, and the
  // episode goes on.
  patroni.Fail(503);
  EXPECT_THAT(watch.Check(now), IsEmpty());
  patroni.SetMembers(WithUsEast());
  EXPECT_THAT(watch.Check(now), IsEmpty());
  // Gone, then back: a new episode.
  patroni.SetMembers(kDeclared);
  EXPECT_THAT(watch.Check(now), IsEmpty());
  EXPECT_THAT(watch.Check(now), IsEmpty());
  patroni.SetMembers(WithUsEast());
  EXPECT_THAT(watch.Check(now), SizeIs(1));
}

TEST(TopologyWatchTest, DeclaredDcAtAnUndeclaredHostIsAViolation) {
  FakePatroni patroni;
  auto moved = kDeclared;
  std::get<1>(moved[2]) = "203.0.113.7";  // no-ham-1, somewhere else
  patroni.SetMembers(moved);
  TopologyWatch watch({Eu(patroni.url())}, absl::Seconds(2));
  std::vector<Finding> found = watch.Check(absl::Now());
  ASSERT_THAT(found, SizeIs(1));
  EXPECT_EQ(found[0].key, "topology_violation/eu/member no-ham-1");
  EXPECT_THAT(found[0].evidence[0].note,
              HasSubstr("(a declared DC of region eu"));
  EXPECT_THAT(found[0].summary, HasSubstr("203.0.113.7"));
}

TEST(TopologyWatchTest, NoApiAnsweringIsNoFindingAndNamesNoSecret) {
  RegionTopologyConfig c = Eu("http://user:hunter2@127.0.0.1:1");
  c.dsn = "host=127.0.0.1 port=1 password=hunter2";
  TopologyWatch watch({c}, absl::Seconds(1));
  EXPECT_THAT(watch.Check(absl::Now()), IsEmpty());
  EXPECT_EQ(watch.checks(), 0u);
  absl::StatusOr<region::ObservedTopology> t =
      ObserveRegion(c, absl::Seconds(1));
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(absl::IsUnavailable(t.status())) << t.status();
  EXPECT_THAT(std::string(t.status().message()), Not(HasSubstr("hunter2")));
}

// A config with the given `topology:` section (text after "topology:").
absl::StatusOr<AuditorConfig> LoadWithTopology(testing::TempDir& dir,
                                               const std::string& topology) {
  auto log_key = testing::MakeKey("log.test/a");
  auto pkey = testing::MakeKey("auditor.test");
  WriteFile(dir.Sub("audit.yaml"),
            absl::StrCat(testing::ConfigYaml("  insecure_no_auth: true\n",
                                             log_key.verifier, pkey.verifier),
                         testing::kPrincipalsYaml, "topology:", topology));
  return LoadAuditorConfig(dir.Sub("audit.yaml"));
}

TEST(TopologyWatchTest, ConfigSectionIsReadAndCheckedWithoutEchoingTheDsn) {
  testing::TempDir dir;
  WriteFile(dir.Sub("eu.dsn"),
            "host=10.0.1.10,10.0.2.10 user=auditor password=hunter2 "
            "target_session_attrs=read-write\n",
            /*secret=*/true);
  const std::string good = R"(
  interval: 15s
  regions:
    - region: eu
      patroni_urls: [http://10.0.1.10:8008, http://10.0.2.10:8008]
      dsn_file: eu.dsn
      dcs:
        - {id: ie-dub-1, db_hosts: ["10.0.1.10:5432"]}
        - {id: ie-dub-2}
)";
  auto c = LoadWithTopology(dir, good);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->topology_interval, absl::Seconds(15));
  ASSERT_THAT(c->topology, SizeIs(1));
  EXPECT_EQ(c->topology[0].region.id, "eu");
  EXPECT_THAT(c->topology[0].patroni_urls, SizeIs(2));
  EXPECT_THAT(c->topology[0].dsn, HasSubstr("password=hunter2"));
  ASSERT_THAT(c->topology[0].region.dcs, SizeIs(2));
  EXPECT_EQ(c->topology[0].region.dcs[0].db_hosts,
            std::vector<std::string>{"10.0.1.10:5432"});

  for (const auto& [from, to, field] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"http://10.0.1.10:8008,", "ftp://x,", "patroni_urls"},
           {"{id: ie-dub-2}", "{id: ie-dub-1}", "dcs[1].id"},
           {"{id: ie-dub-2}", "{name: ie-dub-2}", "dcs[1].name"},
           {"region: eu", "region: ''", "region"},
           {"interval: 15s", "interval: never", "topology.interval"}}) {
    std::string bad = good;
    bad.replace(bad.find(from), from.size(), to);
    auto refused = LoadWithTopology(dir, bad);
    EXPECT_FALSE(refused.ok()) << to;
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr(field))
        << to;
  }
  // A DSN file others can read is refused; the error never quotes it.
  WriteFile(dir.Sub("eu.dsn"), "host=x password=hunter2\n", /*secret=*/false);
  auto refused = LoadWithTopology(dir, good);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("dsn_file"));
  EXPECT_THAT(std::string(refused.status().message()),
              Not(HasSubstr("hunter2")));
}

TEST(TopologyWatchTest, AuditorRaisesOneIncidentPerEpisode) {
  FakePatroni patroni;
  patroni.SetMembers(WithUsEast());
  testing::TempDir dir;
  AuditorConfig c;
  c.source_file = "topology_watch_test";
  c.data_dir = dir.Sub("data");
  c.insecure_no_auth = true;
  auto wkey = crypto::Ed25519PrivateKey::Generate();
  auto jkey = crypto::Ed25519PrivateKey::Generate();
  ASSERT_TRUE(wkey.ok() && jkey.ok());
  c.witness_key_file = dir.Sub("w.key");
  c.journal_key_file = dir.Sub("j.key");
  WriteFile(c.witness_key_file,
            log::FormatSignerKey("auditor.t", 0x04, *wkey) + "\n", true);
  WriteFile(c.journal_key_file,
            log::FormatSignerKey("auditor.t/incidents", 0x01, *jkey) + "\n",
            true);
  c.topology = {Eu(patroni.url())};
  auto auditor = Auditor::Create(c);
  ASSERT_TRUE(auditor.ok()) << auditor.status();
  (*auditor)->CheckTopologyOnce();
  (*auditor)->CheckTopologyOnce();
  std::vector<Incident> list = (*auditor)->incidents().List(std::nullopt);
  ASSERT_THAT(list, SizeIs(1));
  EXPECT_EQ(list[0].detector, "topology_violation");
  EXPECT_EQ(list[0].severity, Severity::kHigh);
  EXPECT_EQ(list[0].occurrences, 1u);
  EXPECT_THAT(list[0].summary, HasSubstr("us-east-1"));
  // A second violation is its own incident.
  auto more = WithUsEast();
  more.emplace_back("sg-1", "198.51.100.4", 5432, "replica");
  patroni.SetMembers(more);
  (*auditor)->CheckTopologyOnce();
  EXPECT_THAT((*auditor)->incidents().List(std::nullopt), SizeIs(2));
}

}  // namespace
}  // namespace clover::audit
