// The replicated region as an operator runs it (issue 19, items 4-5): the
// real `clover region up` (3 etcd, 3 Patroni-managed PostgreSQL, 3 gateway
// nodes, the US node), then through its gateway nodes: a grant approved
// through one DC works through another; the ε budget is one for the region;
// `clover region drill` loses the leader's whole DC with >= 1,000
// acknowledged writes and none lost; `clover region down` stops exactly what
// `up` started (a foreign process, even one given a recorded pid, and a
// foreign directory are left alone) and refuses a directory without
// Clover's marker.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/json_parse.h"
#include "core/test_temp_dir.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "region/region_up.h"

namespace clover {
namespace {

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `clover ARGS` (ARGS shell-quoted by the caller), capturing both.
CliRun Clover(const std::string& args, const std::string& scratch) {
  const std::string err_file = scratch + "/stderr.txt";
  const std::string cmd =
      absl::StrCat(CLOVER_BINARY, " ", args, " 2>", err_file);
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_file);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  return r;
}

std::string Auth(const char* principal) {
  return absl::StrCat("Authorization: Bearer ",
                      gateway::ExampleApiKey(principal));
}

bool Alive(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  std::getline(in, line);
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() &&
         line[paren + 2] != 'Z';
}

// A process that is not the region's, in a session of its own and holding
// none of the test's output (ctest waits for its pipe to close): `sleep`,
// or with `names` a shell whose command line names `names`.
pid_t Foreign(const char* names = nullptr) {
  const pid_t pid = fork();
  if (pid == 0) {
    setsid();
    const int null_fd = open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; ++fd) dup2(null_fd, fd);
    if (names != nullptr) {
      execl("/bin/sh", "sh", "-c", "sleep 300; true", names,
            static_cast<char*>(nullptr));
    } else {
      execl("/bin/sleep", "sleep", "300", static_cast<char*>(nullptr));
    }
    _exit(127);
  }
  return pid;
}

// SIGKILLs the foreign process's whole session and reaps it.
void KillForeign(pid_t pid) {
  if (pid <= 1) return;
  kill(-pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

class RegionHaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new test::TempDir("region-ha");
    // As root the members run as the postgres user: it must reach D.
    chmod(tmp_->path().c_str(), 0711);
    dir_ = new std::string(tmp_->Sub("r"));
    CliRun up = Clover(
        absl::StrCat("region up --config ", CLOVER_SOURCE_DIR,
                     "/examples/deployment.yaml --data-dir ", *dir_, " --json"),
        tmp_->path());
    setup_error_ = new std::string;
    if (up.code != 0) {
      *setup_error_ =
          absl::StrCat("region up failed (", up.code, "): ", up.err);
      skip_ = up.err.find("is not installed") != std::string::npos ||
              up.err.find("no 'postgres' system user") != std::string::npos;
      return;
    }
    state_ = new rapidjson::Document;
    if (!ParseJson(up.out, state_).ok() || !state_->IsObject()) {
      *setup_error_ = "region up printed no state: " + up.out;
      return;
    }
    for (const auto& n : (*state_)["nodes"].GetArray()) {
      if (std::string(n["storage"].GetString()) == "postgres") {
        eu_.push_back(n["endpoint"].GetString());
      }
    }
  }
  static void TearDownTestSuite() {
    if (dir_ != nullptr && std::filesystem::exists(*dir_)) {
      CliRun down =
          Clover(absl::StrCat("region down --remove --data-dir ", *dir_),
                 tmp_->path());
      if (down.code != 0) std::fprintf(stderr, "%s", down.err.c_str());
    }
    delete tmp_;
  }
  void SetUp() override {
    if (skip_) GTEST_SKIP() << *setup_error_;
    ASSERT_TRUE(setup_error_->empty()) << *setup_error_;
    ASSERT_EQ(eu_.size(), 3u);
  }

  static test::TempDir* tmp_;
  static std::string* dir_;
  static std::string* setup_error_;
  static bool skip_;
  static rapidjson::Document* state_;
  static std::vector<std::string> eu_;
  gateway::HttpClient client_{absl::Seconds(30)};
};

test::TempDir* RegionHaTest::tmp_ = nullptr;
std::string* RegionHaTest::dir_ = nullptr;
std::string* RegionHaTest::setup_error_ = nullptr;
bool RegionHaTest::skip_ = false;
rapidjson::Document* RegionHaTest::state_ = nullptr;
std::vector<std::string> RegionHaTest::eu_;

TEST_F(RegionHaTest, UpRecordsItsProcessesUnderTheMarker) {
  EXPECT_TRUE(std::filesystem::is_regular_file(*dir_ + "/.clover-owned"));
  int gateways = 0, patronis = 0, etcds = 0;
  for (const auto& p : (*state_)["processes"].GetArray()) {
    const std::string kind = p["kind"].GetString();
    EXPECT_TRUE(Alive(p["pid"].GetInt())) << kind;
    gateways += kind == "gateway";
    patronis += kind == "patroni";
    etcds += kind == "etcd";
  }
  EXPECT_EQ(gateways, 4);  // three EU DCs and the US node
  EXPECT_EQ(patronis, 3);
  EXPECT_EQ(etcds, 3);
  // A second `up` on a running region is refused, and changes nothing.
  CliRun again =
      Clover(absl::StrCat("region up --config ", CLOVER_SOURCE_DIR,
                          "/examples/deployment.yaml --data-dir ", *dir_),
             tmp_->path());
  EXPECT_EQ(again.code, 2) << again.err;
  EXPECT_NE(again.err.find("still runs"), std::string::npos) << again.err;
  // Bad arguments: one line, exit 2.
  CliRun bad = Clover("region up --config x.yaml", tmp_->path());
  EXPECT_EQ(bad.code, 2);
  CliRun status = Clover("region status --data-dir " + *dir_, tmp_->path());
  EXPECT_EQ(status.code, 0) << status.err;
  EXPECT_NE(status.out.find("leader: "), std::string::npos);
}

// Approvals are the region's: filed through one DC, approved through a
// second, the grant is honoured through the third (and not before).
TEST_F(RegionHaTest, GrantApprovedThroughOneDcWorksThroughAnother) {
  auto put = client_.Send(
      "PUT", eu_[0] + "/v1/subjects/grant-1",
      {Auth("accounts-eu"), "X-Clover-Purpose: account_management"},
      R"({"country":"IE","fields":{"email":"g@mail.example","name":"Grant Person"}})");
  ASSERT_TRUE(put.ok());
  ASSERT_TRUE(put->status == 200 || put->status == 201) << put->body;
  const std::vector<std::string> legal = {Auth("us-legal-1"),
                                          "X-Clover-Purpose: legal_request"};
  auto before =
      client_.Send("GET", eu_[2] + "/v1/subjects/grant-1?fields=name", legal);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->body.find("Grant Person"), std::string::npos)
      << before->body;
  auto filed = client_.Send(
      "POST", eu_[1] + "/v1/approvals", {Auth("us-legal-1")},
      R"({"justification":"LEGAL_REQUEST","detail":"CASE-19","subjects":["grant-1"],"fields":["name"],"duration":"1h"})");
  ASSERT_TRUE(filed.ok());
  ASSERT_EQ(filed->status, 201) << filed->body;
  rapidjson::Document doc;
  ASSERT_TRUE(ParseJson(filed->body, &doc).ok());
  const std::string id = doc["approval"]["id"].GetString();
  auto approved =
      client_.Send("POST", eu_[2] + "/v1/approvals/" + id + "/approve",
                   {Auth("auditor")}, R"({"reason":"court order"})");
  ASSERT_TRUE(approved.ok());
  ASSERT_EQ(approved->status, 200) << approved->body;
  auto after =
      client_.Send("GET", eu_[0] + "/v1/subjects/grant-1?fields=name", legal);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, 200) << after->body;
  EXPECT_NE(after->body.find("Grant Person"), std::string::npos) << after->body;
}

// One ε budget for the region: each DC's aggregate spends from the same
// ledger, so budget_left falls by ε from one DC to the next.
TEST_F(RegionHaTest, EpsilonBudgetIsSharedAcrossDcs) {
  for (int i = 0; i < 15; ++i) {
    auto put = client_.Send(
        "PUT", eu_[i % 3] + "/v1/subjects/dp-" + std::to_string(i),
        {Auth("accounts-eu"), "X-Clover-Purpose: account_management"},
        absl::StrCat(R"({"country":"IE","fields":{"email":"dp)", i,
                     R"(@mail.example","birthdate":"1980-0)", 1 + i % 9,
                     R"(-01"}})"));
    ASSERT_TRUE(put.ok());
    ASSERT_TRUE(put->status == 200 || put->status == 201) << put->body;
  }
  std::vector<double> left;
  double epsilon = 0;
  for (const std::string& ep : eu_) {
    auto r = client_.Send("POST", ep + "/v1/aggregates",
                          {Auth("eu-analytics"), "X-Clover-Purpose: analytics"},
                          R"({"field":"birthdate"})");
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
    rapidjson::Document doc;
    ASSERT_TRUE(ParseJson(r->body, &doc).ok());
    left.push_back(doc["budget_left"].GetDouble());
    epsilon = doc["epsilon"].GetDouble();
  }
  ASSERT_GT(epsilon, 0);
  EXPECT_NEAR(left[1], left[0] - epsilon, 1e-9);
  EXPECT_NEAR(left[2], left[1] - epsilon, 1e-9);
}

TEST_F(RegionHaTest, DownRefusesADirectoryWithoutTheMarker) {
  const std::string foreign = tmp_->Sub("foreign");
  std::filesystem::create_directories(foreign);
  std::ofstream(foreign + "/keep.txt") << "not Clover's";
  // Even with a state file naming a real process.
  const pid_t victim = Foreign();
  std::ofstream(foreign + "/region.json")
      << R"({"processes":[{"kind":"gateway","dc":"x","pid":)" << victim
      << R"(,"start_time":1,"needle":"sleep"}]})";
  CliRun down = Clover("region down --data-dir " + foreign, tmp_->path());
  EXPECT_EQ(down.code, 2);
  EXPECT_EQ(std::count(down.err.begin(), down.err.end(), '\n'), 1) << down.err;
  EXPECT_NE(down.err.find("marker"), std::string::npos) << down.err;
  EXPECT_TRUE(std::filesystem::exists(foreign + "/keep.txt"));
  EXPECT_TRUE(Alive(victim));
  KillForeign(victim);
}

// The drill through the CLI, on the region `up` started: the leader's whole
// DC lost, >= 1,000 acknowledged writes, none lost.
TEST_F(RegionHaTest, DrillLosesNoAcknowledgedWrite) {
  CliRun drill = Clover("region drill --json --writes 1000 --data-dir " + *dir_,
                        tmp_->path());
  std::printf("%s", drill.out.c_str());
  ASSERT_EQ(drill.code, 0) << drill.err << drill.out;
  rapidjson::Document doc;
  ASSERT_TRUE(ParseJson(drill.out, &doc).ok()) << drill.out;
  const auto& f = doc["failover"];
  EXPECT_GE(f["acknowledged_writes"].GetInt64(), 1000);
  EXPECT_EQ(f["lost"].GetInt64(), 0);
  EXPECT_EQ(f["unexpected"].GetInt64(), 0);
  EXPECT_GT(f["failover_seconds"].GetDouble(), 0);
  EXPECT_LT(f["failover_seconds"].GetDouble(), 60);
  EXPECT_TRUE(doc["traffic"]["approval_works_across_dcs"].GetBool());
  EXPECT_TRUE(doc["traffic"]["budget_shared"].GetBool());
  EXPECT_TRUE(doc["passed"].GetBool());
}

// `down` signals a recorded pid only while it is still the very process
// `up` started: a foreign process given a recorded pid survives, and so
// does one whose command line merely names the directory.
TEST_F(RegionHaTest, DownStopsOnlyWhatUpStarted) {
  const std::string state_file = *dir_ + "/region.json";
  std::ifstream in(state_file);
  std::stringstream ss;
  ss << in.rdbuf();
  rapidjson::Document doc;
  ASSERT_TRUE(ParseJson(ss.str(), &doc).ok());
  std::vector<pid_t> ours;
  const pid_t impostor = Foreign();
  // The US gateway's entry now names the impostor's pid (as if the pid had
  // been reused): its start time and command line do not match.
  std::string text = ss.str();
  pid_t us_pid = -1;
  for (const auto& p : doc["processes"].GetArray()) {
    if (std::string(p["dc"].GetString()) == "us-tx-1") {
      us_pid = p["pid"].GetInt();
    } else {
      ours.push_back(p["pid"].GetInt());
    }
  }
  ASSERT_GT(us_pid, 0);
  const std::string from = absl::StrCat("\"pid\":", us_pid, ",");
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, from.size(), absl::StrCat("\"pid\":", impostor, ","));
  std::ofstream(state_file, std::ios::trunc) << text;
  // A process whose command line names the directory, never recorded.
  const pid_t bystander = Foreign(dir_->c_str());

  CliRun down = Clover("region down --data-dir " + *dir_, tmp_->path());
  EXPECT_EQ(down.code, 0) << down.err;
  EXPECT_TRUE(Alive(impostor));
  EXPECT_TRUE(Alive(bystander));
  for (pid_t pid : ours) EXPECT_FALSE(Alive(pid)) << pid;
  // The US node was not stopped (its record was forged): stop it here.
  EXPECT_TRUE(Alive(us_pid));
  kill(us_pid, SIGKILL);
  for (pid_t pid : {impostor, bystander}) KillForeign(pid);
  CliRun status = Clover("region status --data-dir " + *dir_, tmp_->path());
  EXPECT_NE(status.out.find("nothing running"), std::string::npos)
      << status.out;
}

// A part that fails during `up` (here every gateway node exits at once):
// the error names it, and everything started so far is stopped — the
// cluster's processes, the directory's cluster — and nothing else (this
// test process, for one, lives on).
TEST(RegionUpTest, APartThatFailsStopsEverythingStarted) {
  test::TempDir tmp("region-up-fail");
  chmod(tmp.path().c_str(), 0711);
  region::RegionUpOptions o;
  o.config = absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml");
  o.data_dir = tmp.Sub("r");
  o.clover_binary = "/bin/false";
  o.timeout = absl::Seconds(60);
  auto state = region::RegionUp(o);
  ASSERT_FALSE(state.ok());
  if (absl::IsFailedPrecondition(state.status())) {
    GTEST_SKIP() << state.status().message();
  }
  EXPECT_TRUE(absl::IsInternal(state.status())) << state.status();
  EXPECT_NE(state.status().message().find("gateway node"), std::string::npos)
      << state.status();
  EXPECT_FALSE(std::filesystem::exists(o.data_dir + "/cluster"));
  EXPECT_FALSE(std::filesystem::exists(o.data_dir + "/region.json"));
  // No process names the directory any more (bounded: the watchdog finishes
  // after the destructor returned).
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::string left;
  do {
    left.clear();
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
      std::ifstream in(e.path() / "cmdline");
      std::string cmd((std::istreambuf_iterator<char>(in)),
                      std::istreambuf_iterator<char>());
      if (cmd.find(o.data_dir + "/") != std::string::npos) {
        left = e.path().filename().string();
      }
    }
    if (left.empty()) break;
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < deadline);
  EXPECT_TRUE(left.empty()) << "process " << left << " still runs";
}

}  // namespace
}  // namespace clover
