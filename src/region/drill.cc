#include "region/drill.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/canonical_json.h"
#include "core/json_parse.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "rapidjson/document.h"

namespace clover::region {
namespace {

constexpr size_t kMaxExamples = 5;

std::string Auth(const char* principal) {
  return absl::StrCat("Authorization: Bearer ",
                      gateway::ExampleApiKey(principal));
}

std::string Email(const std::string& subject) {
  return absl::StrCat(subject, "@mail.example");
}

std::string Record(const std::string& subject, int n) {
  return absl::StrCat(R"({"country":"IE","fields":{"email":")", Email(subject),
                      R"(","name":"Person )", subject, R"(","birthdate":")",
                      1950 + n % 50, R"(-01-02"}})");
}

bool Is2xx(int status) { return status == 200 || status == 201; }

bool ProperUnavailable(const gateway::ClientResponse& r) {
  return r.status == 503 && !r.Header("retry-after").empty();
}

struct Acked {
  std::string subject;
  std::string dc;
};

void Say(std::ostream* out, const std::string& line) {
  if (out != nullptr) *out << line << "\n" << std::flush;
}

void Example(std::vector<std::string>* v, std::string s) {
  if (v->size() < kMaxExamples) v->push_back(std::move(s));
}

}  // namespace

bool DrillReport::Passed() const {
  return lost == 0 && unexpected == 0 && approval_works_across_dcs &&
         budget_shared && acknowledged_writes > 0 && failover_seconds >= 0;
}

std::string DrillReport::ToText() const {
  std::string out = "\n=== Clover HA drill summary ===\n\n";
  absl::StrAppend(&out, "Region ", region, " on ", dcs.size(), " DCs (",
                  absl::StrJoin(dcs, ", "),
                  "): PostgreSQL 15 under Patroni, strict synchronous "
                  "replication, one etcd member and one gateway node per DC\n");
  absl::StrAppendFormat(
      &out, "Traffic: %d cross-DC reads of fresh writes, %d matched (%.1f s)\n",
      cross_dc_reads, cross_dc_reads_ok, traffic_seconds);
  absl::StrAppend(
      &out, "Grant filed at ", approval_dcs.size() > 0 ? approval_dcs[0] : "?",
      ", approved at ", approval_dcs.size() > 1 ? approval_dcs[1] : "?",
      ", used at ", approval_dcs.size() > 2 ? approval_dcs[2] : "?", ": HTTP ",
      approval_read_status,
      approval_works_across_dcs ? " (works across DCs)" : " (DID NOT WORK)",
      "\n");
  std::vector<std::string> budgets;
  for (double b : budget_left) budgets.push_back(absl::StrFormat("%.2f", b));
  absl::StrAppend(&out, "Epsilon budget left after an aggregate at each DC: ",
                  absl::StrJoin(budgets, " -> "),
                  budget_shared ? " (one regional budget)" : " (NOT SHARED)",
                  "\n");
  absl::StrAppend(&out, "\nLost the whole DC ", killed_dc,
                  " (leader): PostgreSQL, Patroni, etcd and gateway "
                  "SIGKILLed together; new leader ",
                  new_leader, "\n");
  absl::StrAppendFormat(&out,
                        "Failover: first acknowledged write %.1f s after "
                        "the kill\n",
                        failover_seconds);
  absl::StrAppend(&out, "Acknowledged writes: ", acknowledged_writes, " (",
                  acknowledged_after_loss,
                  " after the loss); 503 + Retry-After while failing over: ",
                  unavailable_503, "; unexpected answers: ", unexpected, "\n");
  for (const std::string& e : unexpected_examples) {
    absl::StrAppend(&out, "  unexpected: ", e, "\n");
  }
  absl::StrAppend(&out,
                  "Every acknowledged write read back through a "
                  "surviving DC: lost ",
                  lost, "\n");
  for (const std::string& e : lost_examples) {
    absl::StrAppend(&out, "  lost: ", e, "\n");
  }
  absl::StrAppend(&out, "\nResult: ", Passed() ? "PASSED" : "FAILED", "\n");
  return out;
}

std::string DrillReport::ToJson() const {
  std::string out = absl::StrFormat(
      "{\"failover\":{\"acknowledged_writes\":%d,\"lost\":%d,"
      "\"failover_seconds\":%.3f,\"acknowledged_after_loss\":%d,"
      "\"unavailable_503\":%d,\"unexpected\":%d,\"killed_dc\":",
      acknowledged_writes, lost, failover_seconds, acknowledged_after_loss,
      unavailable_503, unexpected);
  AppendJsonString(killed_dc, &out);
  out.append(",\"new_leader\":");
  AppendJsonString(new_leader, &out);
  absl::StrAppendFormat(
      &out,
      "},\"traffic\":{\"cross_dc_reads\":%d,\"cross_dc_reads_ok\":%d,"
      "\"approval_read_status\":%d,\"approval_works_across_dcs\":%s,"
      "\"budget_shared\":%s,\"budget_left\":[%s]},\"region\":",
      cross_dc_reads, cross_dc_reads_ok, approval_read_status,
      approval_works_across_dcs ? "true" : "false",
      budget_shared ? "true" : "false",
      absl::StrJoin(budget_left, ",", [](std::string* o, double b) {
        absl::StrAppendFormat(o, "%.4f", b);
      }));
  AppendJsonString(region, &out);
  absl::StrAppend(&out, ",\"passed\":", Passed() ? "true" : "false", "}");
  return out;
}

absl::StatusOr<DrillReport> RunDrill(const RegionState& state,
                                     const DrillOptions& options) {
  DrillReport report;
  // The replicated region's nodes: those on postgres whose gateway runs.
  std::vector<const RegionNodeState*> nodes;
  for (const RegionNodeState& n : state.nodes) {
    if (n.storage != "postgres") continue;
    bool running = false;
    for (const RegionProcess& p : state.processes) {
      running =
          running || (p.kind == "gateway" && p.dc == n.dc && StillOurs(p));
    }
    if (running) nodes.push_back(&n);
  }
  if (nodes.size() < 3) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the drill needs a replicated region with three running gateway "
        "nodes; ",
        nodes.size(), " run in ", state.data_dir,
        " (start one with `clover region up`)"));
  }
  report.region = nodes[0]->region;
  for (const RegionNodeState* n : nodes) report.dcs.push_back(n->dc);
  auto endpoint = [&](const std::string& dc) {
    for (const RegionNodeState* n : nodes) {
      if (n->dc == dc) return n->endpoint;
    }
    return std::string();
  };
  const std::string accounts = Auth("accounts-eu");
  const std::string support = Auth("eu-support-1");
  const absl::Time traffic_start = absl::Now();

  // A grant filed through one DC, approved through a second, used through a
  // third.
  {
    gateway::HttpClient c(absl::Seconds(30));
    const std::string subject =
        absl::StrCat("ha-grant-", absl::ToUnixMillis(absl::Now()));
    report.approval_dcs = {report.dcs[0], report.dcs[1], report.dcs[2]};
    auto put = c.Send(
        "PUT", endpoint(report.dcs[0]) + "/v1/subjects/" + subject,
        {accounts, "X-Clover-Purpose: account_management"}, Record(subject, 0));
    auto filed = c.Send(
        "POST", endpoint(report.dcs[0]) + "/v1/approvals", {Auth("us-legal-1")},
        absl::StrCat(R"({"justification":"LEGAL_REQUEST","detail":"HA drill",)"
                     R"("subjects":[")",
                     subject, R"("],"fields":["name"],"duration":"1h"})"));
    std::string id;
    if (put.ok() && Is2xx(put->status) && filed.ok() && filed->status == 201) {
      rapidjson::Document doc;
      if (ParseJson(filed->body, &doc).ok() && doc.IsObject() &&
          doc.HasMember("approval") && doc["approval"].IsObject() &&
          doc["approval"].HasMember("id") && doc["approval"]["id"].IsString()) {
        id = doc["approval"]["id"].GetString();
      }
    }
    if (!id.empty()) {
      auto approved = c.Send(
          "POST", endpoint(report.dcs[1]) + "/v1/approvals/" + id + "/approve",
          {Auth("auditor")},
          R"({"reason":"HA drill: approved at another DC"})");
      auto read = c.Send(
          "GET",
          endpoint(report.dcs[2]) + "/v1/subjects/" + subject + "?fields=name",
          {Auth("us-legal-1"), "X-Clover-Purpose: legal_request"});
      if (read.ok()) report.approval_read_status = read->status;
      report.approval_works_across_dcs =
          approved.ok() && approved->status == 200 && read.ok() &&
          read->status == 200 &&
          read->body.find(absl::StrCat("Person ", subject)) !=
              std::string::npos;
    }
    Say(options.progress,
        absl::StrCat("grant filed at ", report.dcs[0], ", approved at ",
                     report.dcs[1], ", read at ", report.dcs[2], ": HTTP ",
                     report.approval_read_status));
  }

  absl::Mutex mu;
  std::vector<Acked> acked;
  std::vector<std::string> alive = report.dcs;    // guarded by mu
  std::string killed;                             // guarded by mu
  absl::Time kill_time = absl::InfiniteFuture();  // guarded by mu
  absl::Time first_ack_after = absl::InfiniteFuture();
  int64_t after_loss = 0;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, options.writers); ++t) {
    threads.emplace_back([&, t] {
      gateway::HttpClient c(absl::Seconds(60));
      for (int n = 0; !stop.load(); ++n) {
        const std::string subject = absl::StrCat("ha-", t, "-", n);
        std::string dc, reader_dc;
        absl::Time sent = absl::Now();
        {
          absl::MutexLock lock(&mu);
          dc = alive[(n + t) % alive.size()];
          reader_dc = alive[(n + t + 1) % alive.size()];
          sent = absl::Now();
        }
        auto r = c.Send("PUT", endpoint(dc) + "/v1/subjects/" + subject,
                        {accounts, "X-Clover-Purpose: account_management"},
                        Record(subject, n));
        absl::MutexLock lock(&mu);
        if (!r.ok()) {
          // A request in flight to the DC being lost: not acknowledged.
          if (dc != killed) {
            ++report.unexpected;
            Example(&report.unexpected_examples,
                    absl::StrCat("PUT ", subject, " at ", dc, ": ",
                                 r.status().message()));
          }
          continue;
        }
        if (Is2xx(r->status)) {
          acked.push_back({subject, dc});
          if (sent >= kill_time) {
            ++after_loss;
            first_ack_after = std::min(first_ack_after, absl::Now());
          } else if (killed.empty() && dc != reader_dc) {
            // Read back at once through another DC.
            mu.Unlock();
            auto back = c.Send("GET",
                               endpoint(reader_dc) + "/v1/subjects/" + subject +
                                   "?fields=email",
                               {support, "X-Clover-Purpose: customer_support"});
            mu.Lock();
            if (back.ok() && !ProperUnavailable(*back)) {
              ++report.cross_dc_reads;
              if (back->status == 200 &&
                  back->body.find(Email(subject)) != std::string::npos) {
                ++report.cross_dc_reads_ok;
              }
            }
          }
        } else if (ProperUnavailable(*r)) {
          ++report.unavailable_503;
          mu.Unlock();
          absl::SleepFor(absl::Milliseconds(100));
          mu.Lock();
        } else {
          ++report.unexpected;
          Example(&report.unexpected_examples,
                  absl::StrCat("PUT ", subject, " at ", dc, ": HTTP ",
                               r->status, " ", r->body.substr(0, 200)));
        }
      }
    });
  }
  auto count = [&] {
    absl::MutexLock lock(&mu);
    return static_cast<int64_t>(acked.size());
  };
  auto finish = [&] {
    stop = true;
    for (std::thread& th : threads) th.join();
  };
  const int64_t before =
      std::max<int64_t>(50, options.writes - options.writes_after_loss);
  const absl::Time warm_deadline = absl::Now() + absl::Seconds(120);
  while (count() < before && absl::Now() < warm_deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (count() < before) {
    finish();
    return absl::DeadlineExceededError(
        absl::StrCat("only ", count(),
                     " writes acknowledged in 120 s before "
                     "the loss"));
  }
  Say(options.progress, absl::StrCat(count(), " writes acknowledged through ",
                                     report.dcs.size(), " DCs"));
  // One regional ε budget: an aggregate through each DC.
  {
    gateway::HttpClient c(absl::Seconds(30));
    report.budget_shared = true;
    for (const std::string& dc : report.dcs) {
      auto r = c.Send("POST", endpoint(dc) + "/v1/aggregates",
                      {Auth("eu-analytics"), "X-Clover-Purpose: analytics"},
                      R"({"field":"birthdate"})");
      rapidjson::Document doc;
      if (!r.ok() || r->status != 200 || !ParseJson(r->body, &doc).ok() ||
          !doc.IsObject() || !doc.HasMember("budget_left") ||
          !doc["budget_left"].IsNumber()) {
        report.budget_shared = false;
        Say(options.progress,
            absl::StrCat("aggregate at ", dc, ": ",
                         r.ok() ? absl::StrCat("HTTP ", r->status, " ",
                                               r->body.substr(0, 200))
                                : std::string(r.status().message())));
        break;
      }
      const double left = doc["budget_left"].GetDouble();
      if (!report.budget_left.empty() && left >= report.budget_left.back()) {
        report.budget_shared = false;
      }
      report.budget_left.push_back(left);
    }
  }
  report.traffic_seconds = absl::ToDoubleSeconds(absl::Now() - traffic_start);

  // The loss of the leader's whole DC.
  std::string victim = options.kill_dc;
  if (victim.empty()) {
    absl::StatusOr<std::string> leader = RegionLeader(state);
    if (!leader.ok()) {
      finish();
      return leader.status();
    }
    victim = *leader;
  }
  {
    absl::MutexLock lock(&mu);
    alive.erase(std::remove(alive.begin(), alive.end(), victim), alive.end());
    killed = victim;
  }
  report.killed_dc = victim;
  if (alive.empty()) {
    finish();
    return absl::FailedPreconditionError("no DC would survive");
  }
  Say(options.progress,
      absl::StrCat("killing DC ", victim,
                   " (leader): PostgreSQL, Patroni, etcd, gateway"));
  if (absl::Status k = KillDc(state, victim); !k.ok()) {
    finish();
    return k;
  }
  {
    // The kill is complete once the postmaster is gone: a write sent before
    // could still commit on the old leader, so the failover time counts from
    // here, and only writes sent from here on.
    absl::MutexLock lock(&mu);
    kill_time = absl::Now();
  }
  for (;;) {
    {
      absl::MutexLock lock(&mu);
      if (after_loss >= options.writes_after_loss &&
          static_cast<int64_t>(acked.size()) >= options.writes &&
          first_ack_after != absl::InfiniteFuture()) {
        break;
      }
      if (absl::Now() - kill_time > options.failover_bound) break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  finish();
  report.acknowledged_writes = static_cast<int64_t>(acked.size());
  report.acknowledged_after_loss = after_loss;
  if (first_ack_after != absl::InfiniteFuture()) {
    report.failover_seconds =
        absl::ToDoubleSeconds(first_ack_after - kill_time);
  }
  if (absl::StatusOr<std::string> l = RegionLeader(state); l.ok()) {
    report.new_leader = *l;
  }
  Say(options.progress,
      absl::StrCat(report.acknowledged_writes, " writes acknowledged (",
                   after_loss, " after the loss); first after ",
                   absl::StrFormat("%.1f", report.failover_seconds),
                   " s; verifying every one through the survivors"));
  // Every acknowledged write, read back through a surviving DC.
  {
    gateway::HttpClient c(absl::Seconds(60));
    size_t i = 0;
    for (const Acked& a : acked) {
      const std::string& dc = alive[i++ % alive.size()];
      auto r = c.Send(
          "GET", endpoint(dc) + "/v1/subjects/" + a.subject + "?fields=email",
          {support, "X-Clover-Purpose: customer_support"});
      if (r.ok() && r->status == 200 &&
          r->body.find(Email(a.subject)) != std::string::npos) {
        continue;
      }
      ++report.lost;
      Example(&report.lost_examples,
              absl::StrCat(a.subject, " (written at ", a.dc, ", read at ", dc,
                           "): ",
                           r.ok() ? absl::StrCat("HTTP ", r->status, " ",
                                                 r->body.substr(0, 200))
                                  : std::string(r.status().message())));
    }
  }
  if (report.failover_seconds < 0 ||
      report.acknowledged_after_loss < options.writes_after_loss) {
    return absl::DeadlineExceededError(absl::StrCat(
        "the surviving DCs took ", report.acknowledged_after_loss,
        " writes within ", absl::FormatDuration(options.failover_bound),
        " of the loss (wanted ", options.writes_after_loss,
        "): ", report.ToJson()));
  }
  return report;
}

}  // namespace clover::region
