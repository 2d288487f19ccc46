#include "audit/approvals_desk.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "approvals/attestation.h"
#include "core/canonical_json.h"
#include "core/logger.h"
#include "net/http_client.h"
#include "rapidjson/document.h"

namespace clover::audit {
namespace {

using server::HttpRequest;
using server::HttpResponse;
using server::Responder;

void AddHeaders(HttpResponse& r) {
  r.headers.emplace_back("Content-Security-Policy", kConsoleCsp);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Cache-Control", "no-store");
}

HttpResponse Err(int status, absl::string_view code, absl::string_view msg) {
  HttpResponse r = HttpResponse::Error(status, code, msg);
  AddHeaders(r);
  return r;
}

HttpResponse Json(int status, std::string body) {
  HttpResponse r = HttpResponse::Json(status, std::move(body));
  AddHeaders(r);
  return r;
}

std::string PercentEncode(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// Approval ids as nodes issue them; anything else never reaches a node.
bool ValidApprovalId(absl::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
           c == ':';
  });
}

bool ValidSubject(absl::string_view s) {
  if (s.empty() || s.size() > 256) return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

const rapidjson::Value* Member(const rapidjson::Value& o, const char* k) {
  if (!o.IsObject()) return nullptr;
  auto it = o.FindMember(k);
  return it == o.MemberEnd() ? nullptr : &it->value;
}

std::string StrOf(const rapidjson::Value& o, const char* k) {
  const rapidjson::Value* v = Member(o, k);
  return v != nullptr && v->IsString()
             ? std::string(v->GetString(), v->GetStringLength())
             : std::string();
}

// The message of a node's {"error":{...}} answer, else its status.
std::string NodeError(const net::HttpAnswer& a) {
  rapidjson::Document d;
  d.Parse(a.body.data(), a.body.size());
  std::string msg;
  if (!d.HasParseError()) {
    if (const rapidjson::Value* e = Member(d, "error"))
      msg = StrOf(*e, "message");
  }
  return msg.empty() ? absl::StrCat("HTTP ", a.status)
                     : absl::StrCat("HTTP ", a.status, ": ", msg);
}

// "{...}" with "node" added first.
std::string WithNode(absl::string_view node, absl::string_view object) {
  std::string out = "{\"node\":";
  AppendJsonString(node, &out);
  if (object.size() > 2) {
    out.push_back(',');
    out.append(object.data() + 1, object.size() - 1);
  } else {
    out.push_back('}');
  }
  return out;
}

void AppendUnavailable(absl::string_view node, absl::string_view error,
                       std::string& out) {
  if (!out.empty()) out.push_back(',');
  out.append("{\"node\":");
  AppendJsonString(node, &out);
  out.append(",\"error\":");
  AppendJsonString(error, &out);
  out.push_back('}');
}

// The c2sp.org/tlog-proof@v1 of entry `index` with `hashes` (base64) against
// the signed `checkpoint`.
std::string TlogProof(uint64_t index, const rapidjson::Value& hashes,
                      absl::string_view checkpoint) {
  std::string out = absl::StrCat("c2sp.org/tlog-proof@v1\nindex ", index, "\n");
  if (hashes.IsArray()) {
    for (const auto& h : hashes.GetArray()) {
      if (h.IsString()) absl::StrAppend(&out, h.GetString(), "\n");
    }
  }
  absl::StrAppend(&out, "\n", checkpoint);
  return out;
}

// The desk's queue, shared with its (detached) threads: a desk may be
// destroyed on one of them (a task holds the last reference), so it never
// joins them; they leave once `stop` is set.
struct DeskPool {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::deque<std::function<void(bool)>> queue;
};

class Desk {
 public:
  explicit Desk(ApprovalDeskConfig cfg)
      : cfg_(std::move(cfg)), pool_(std::make_shared<DeskPool>()) {
    if (cfg_.nodes.empty()) return;
    for (int i = 0; i < 2; ++i) std::thread([p = pool_] { Work(p); }).detach();
  }
  ~Desk() {
    std::deque<std::function<void(bool)>> left;
    {
      std::lock_guard<std::mutex> lock(pool_->mu);
      pool_->stop = true;
      left.swap(pool_->queue);
    }
    pool_->cv.notify_all();
    for (auto& task : left) task(false);
  }

  const ApprovalDeskConfig& cfg() const { return cfg_; }
  bool configured() const { return !cfg_.nodes.empty(); }

  const ApprovalDeskNode* Find(absl::string_view name) const {
    for (const ApprovalDeskNode& n : cfg_.nodes) {
      if (n.name == name) return &n;
    }
    return nullptr;
  }

  // Runs `task(true)` on a desk thread, or `task(false)` when shutting down.
  // False (and nothing runs) when kDeskQueue tasks already wait.
  bool Submit(std::function<void(bool)> task) {
    {
      std::lock_guard<std::mutex> lock(pool_->mu);
      if (pool_->stop || pool_->queue.size() >= kDeskQueue) return false;
      pool_->queue.push_back(std::move(task));
    }
    pool_->cv.notify_one();
    return true;
  }

  absl::StatusOr<net::HttpAnswer> Call(const ApprovalDeskNode& n,
                                       absl::string_view method,
                                       absl::string_view path,
                                       absl::string_view body = {}) const {
    const std::string url = absl::StrCat(absl::StripSuffix(n.url, "/"), path);
    net::HttpCall c;
    c.method = method;
    c.url = url;
    c.headers = {absl::StrCat("Authorization: Bearer ", n.api_key),
                 "Accept: application/json"};
    if (method == "POST") c.headers.push_back("Content-Type: application/json");
    c.body = body;
    c.timeout = absl::Seconds(15);
    c.max_answer_bytes = size_t{32} << 20;
    c.ca_file = n.ca_file;
    return net::ThreadHttpClient().Send(c);
  }

 private:
  static void Work(const std::shared_ptr<DeskPool>& p) {
    for (;;) {
      std::function<void(bool)> task;
      {
        std::unique_lock<std::mutex> lock(p->mu);
        p->cv.wait(lock, [&p] { return p->stop || !p->queue.empty(); });
        if (p->stop) return;
        task = std::move(p->queue.front());
        p->queue.pop_front();
      }
      task(true);
    }
  }

  const ApprovalDeskConfig cfg_;
  std::shared_ptr<DeskPool> pool_;
};

// Runs `work` on the desk; answers 503 when it is saturated or stopping.
void Dispatch(Desk& desk, Responder respond,
              std::function<HttpResponse()> work) {
  auto shared = std::make_shared<Responder>(std::move(respond));
  bool queued = desk.Submit([shared, work = std::move(work)](bool run) {
    if (!run) {
      HttpResponse r = Err(503, "unavailable", "the auditor is shutting down");
      r.headers.emplace_back("Retry-After", "1");
      (*shared)(std::move(r));
      return;
    }
    (*shared)(work());
  });
  if (!queued) {
    HttpResponse r = Err(503, "unavailable",
                         "the approvals desk is busy; retry in a moment");
    r.headers.emplace_back("Retry-After", "1");
    (*shared)(std::move(r));
  }
}

// GETs `path` from node `n` and parses its body into `d`; false, with the
// reason added to `unavailable`, when the node cannot be reached or answers
// other than 200 (what a parse error means is the caller's).
bool GetFromNode(const Desk& desk, const ApprovalDeskNode& n,
                 const std::string& path, rapidjson::Document& d,
                 std::string& unavailable) {
  absl::StatusOr<net::HttpAnswer> a = desk.Call(n, "GET", path);
  if (!a.ok()) {
    AppendUnavailable(n.name, a.status().message(), unavailable);
    return false;
  }
  if (a->status != 200) {
    AppendUnavailable(n.name, NodeError(*a), unavailable);
    return false;
  }
  d.Parse(a->body.data(), a->body.size());
  return true;
}

// Every desk node's approvals in `state` ("" all), newest first.
std::string ListApprovals(const Desk& desk, const std::string& state) {
  std::vector<std::pair<std::string, std::string>> rows;  // (created, json)
  std::set<std::string> seen;
  std::string unavailable;
  for (const ApprovalDeskNode& n : desk.cfg().nodes) {
    std::string token;
    for (int page = 0; page < kDeskMaxPages; ++page) {
      std::string path = "/v1/approvals?limit=100";
      if (!state.empty()) absl::StrAppend(&path, "&state=", state);
      if (!token.empty())
        absl::StrAppend(&path, "&page_token=", PercentEncode(token));
      rapidjson::Document d;
      if (!GetFromNode(desk, n, path, d, unavailable)) break;
      const rapidjson::Value* list =
          d.HasParseError() ? nullptr : Member(d, "approvals");
      if (list == nullptr || !list->IsArray()) {
        AppendUnavailable(n.name, "not an approval list", unavailable);
        break;
      }
      for (const auto& ap : list->GetArray()) {
        const std::string id = StrOf(ap, "id");
        if (id.empty() || !seen.insert(id).second) continue;
        absl::StatusOr<std::string> json = CanonicalJson(ap);
        if (!json.ok()) continue;
        rows.emplace_back(StrOf(ap, "created"), WithNode(n.name, *json));
      }
      token = StrOf(d, "next_page_token");
      if (token.empty()) break;
    }
  }
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.first > b.first;
  });
  std::string out = "{\"configured\":true,\"approver\":";
  AppendJsonString(desk.cfg().principal, &out);
  out.append(",\"approvals\":[");
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append(rows[i].second);
  }
  absl::StrAppend(&out, "],\"unavailable\":[", unavailable, "]}");
  return out;
}

// A node's answer to a change, passed on: its 2xx and 4xx as they are, other
// statuses as 502.
HttpResponse PassOn(const net::HttpAnswer& a) {
  if (a.status >= 200 && a.status < 500) {
    return Json(a.status, a.body.empty() ? std::string("{}") : a.body);
  }
  return Err(502, "unavailable", NodeError(a));
}

struct DecisionBody {
  std::string reason;
  absl::Duration duration = absl::ZeroDuration();  // zero: not given
};

// Parses the desk's body for `action`. Errors: InvalidArgument naming the
// member.
absl::StatusOr<DecisionBody> ParseDecision(absl::string_view body,
                                           absl::string_view action) {
  DecisionBody out;
  if (body.empty()) return out;
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError() || !d.IsObject()) {
    return absl::InvalidArgumentError("the body must be a JSON object");
  }
  for (const auto& m : d.GetObject()) {
    const absl::string_view k(m.name.GetString(), m.name.GetStringLength());
    if (k == "reason") {
      if (!m.value.IsString() || m.value.GetStringLength() > 1000) {
        return absl::InvalidArgumentError(
            "field 'reason': a string of at most 1000 bytes");
      }
      out.reason.assign(m.value.GetString(), m.value.GetStringLength());
    } else if (k == "duration" && action == "approve") {
      if (!m.value.IsString() ||
          !absl::ParseDuration(m.value.GetString(), &out.duration) ||
          out.duration <= absl::ZeroDuration() ||
          out.duration == absl::InfiniteDuration()) {
        return absl::InvalidArgumentError(
            "field 'duration': a positive duration such as \"2h\"");
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown field '", k.substr(0, 64), "'"));
    }
  }
  return out;
}

HttpResponse Decide(const Desk& desk, const ApprovalDeskNode& node,
                    const std::string& id, const std::string& action,
                    const DecisionBody& body, const std::string& who) {
  const std::string path = absl::StrCat("/v1/approvals/", PercentEncode(id));
  std::string post = "{";
  if (action == "approve") {
    absl::StatusOr<net::HttpAnswer> got = desk.Call(node, "GET", path);
    if (!got.ok()) return Err(502, "unavailable", got.status().message());
    if (got->status != 200) return PassOn(*got);
    rapidjson::Document d;
    d.Parse(got->body.data(), got->body.size());
    if (d.HasParseError() || !d.IsObject()) {
      return Err(502, "unavailable", "the node's approval is not JSON");
    }
    const std::string state = StrOf(d, "state");
    if (state != "pending") {
      return Err(409, "conflict",
                 absl::StrCat("approval ", id, " is ", state, ", not pending"));
    }
    absl::Duration requested;
    if (!absl::ParseDuration(StrOf(d, "duration"), &requested) ||
        requested <= absl::ZeroDuration()) {
      requested = absl::Hours(1);
    }
    absl::Duration limit = absl::InfiniteDuration();
    if (const std::string m = StrOf(d, "max_duration"); !m.empty()) {
      if (!absl::ParseDuration(m, &limit)) limit = absl::InfiniteDuration();
    }
    absl::Duration duration = body.duration;
    if (duration == absl::ZeroDuration()) duration = std::min(requested, limit);
    if (duration > limit) {
      return Err(400, "invalid_argument",
                 absl::StrCat("field 'duration': at most ",
                              absl::FormatDuration(limit),
                              " (the policy's max_duration for this request)"));
    }
    absl::StatusOr<std::string> note = approvals::AttestApproval(
        got->body, desk.cfg().principal, duration,
        desk.cfg().attestation_signer_key, absl::Now());
    if (!note.ok()) {
      return Err(502, "unavailable",
                 absl::StrCat("cannot attest the node's approval: ",
                              note.status().message()));
    }
    post.append("\"attestation\":");
    AppendJsonString(*note, &post);
    post.append(",\"duration\":");
    AppendJsonString(absl::FormatDuration(duration), &post);
    post.push_back(',');
  }
  post.append("\"reason\":");
  AppendJsonString(body.reason, &post);
  post.push_back('}');
  absl::StatusOr<net::HttpAnswer> a =
      desk.Call(node, "POST", absl::StrCat(path, "/", action), post);
  if (!a.ok()) return Err(502, "unavailable", a.status().message());
  logging::Info("approvals desk", {{"event", absl::StrCat("approval_", action)},
                                   {"principal", who},
                                   {"node", node.name},
                                   {"approval", id},
                                   {"status", absl::StrCat(a->status)}});
  return PassOn(*a);
}

// Appends a report page's `entries` (proved against `checkpoint`).
void AppendReportEntries(absl::string_view node, const rapidjson::Value* list,
                         const std::string& checkpoint, std::string& out,
                         size_t& count) {
  if (list == nullptr || !list->IsArray()) return;
  const std::string origin = checkpoint.substr(0, checkpoint.find('\n'));
  for (const auto& e : list->GetArray()) {
    const rapidjson::Value* entry = Member(e, "entry");
    const rapidjson::Value* index = Member(e, "index");
    const rapidjson::Value* proof = Member(e, "inclusion_proof");
    if (entry == nullptr || index == nullptr || !index->IsUint64() ||
        proof == nullptr) {
      continue;
    }
    // Log entries are canonical JSON: this is their exact logged bytes (the
    // browser's leaf hash fails for anything else).
    absl::StatusOr<std::string> bytes = CanonicalJson(*entry);
    if (!bytes.ok()) continue;
    if (count++ > 0) out.push_back(',');
    out.append("{\"node\":");
    AppendJsonString(node, &out);
    out.append(",\"dc\":");
    AppendJsonString(StrOf(e, "dc"), &out);
    out.append(",\"origin\":");
    AppendJsonString(origin, &out);
    absl::StrAppend(&out, ",\"index\":", index->GetUint64(), ",\"entry\":");
    AppendJsonString(*bytes, &out);
    out.append(",\"proof\":");
    AppendJsonString(TlogProof(index->GetUint64(), *proof, checkpoint), &out);
    out.push_back('}');
  }
}

std::string AccessReport(const Desk& desk, const std::string& subject) {
  std::string entries, unavailable, lookups;
  size_t count = 0;
  for (const ApprovalDeskNode& n : desk.cfg().nodes) {
    std::string token;
    for (int page = 0; page < kDeskMaxPages; ++page) {
      std::string path = absl::StrCat("/v1/subjects/", PercentEncode(subject),
                                      "/access-report?limit=100");
      if (!token.empty())
        absl::StrAppend(&path, "&page_token=", PercentEncode(token));
      rapidjson::Document d;
      if (!GetFromNode(desk, n, path, d, unavailable)) break;
      if (d.HasParseError() || !d.IsObject()) {
        AppendUnavailable(n.name, "not an access report", unavailable);
        break;
      }
      if (!lookups.empty()) lookups.push_back(',');
      lookups.append("{\"node\":");
      AppendJsonString(n.name, &lookups);
      lookups.append(",\"subject_pseudonym\":");
      AppendJsonString(StrOf(d, "subject_pseudonym"), &lookups);
      const rapidjson::Value* li = Member(d, "log_index");
      absl::StrAppend(&lookups, ",\"log_index\":",
                      li != nullptr && li->IsUint64() ? li->GetUint64() : 0,
                      "}");
      AppendReportEntries(n.name, Member(d, "entries"), StrOf(d, "checkpoint"),
                          entries, count);
      if (const rapidjson::Value* rl = Member(d, "region_logs");
          rl != nullptr && rl->IsArray()) {
        for (const auto& g : rl->GetArray()) {
          AppendReportEntries(n.name, Member(g, "entries"),
                              StrOf(g, "checkpoint"), entries, count);
        }
      }
      if (const rapidjson::Value* ul = Member(d, "unavailable_logs");
          ul != nullptr && ul->IsArray()) {
        for (const auto& u : ul->GetArray()) {
          AppendUnavailable(absl::StrCat(n.name, "/", StrOf(u, "dc")),
                            StrOf(u, "error"), unavailable);
        }
      }
      token = StrOf(d, "next_page_token");
      if (token.empty()) break;
    }
  }
  std::string out = "{\"configured\":true,\"subject\":";
  AppendJsonString(subject, &out);
  absl::StrAppend(&out, ",\"lookups\":[", lookups, "],\"entries\":[", entries,
                  "],\"unavailable\":[", unavailable, "]}");
  return out;
}

constexpr absl::string_view kStates[] = {"pending", "approved", "denied",
                                         "expired", "revoked"};

}  // namespace

void RegisterApprovalsDeskRoutes(server::Router& router,
                                 const ApprovalDeskConfig& config,
                                 ConsoleSessions& sessions) {
  auto desk = std::make_shared<Desk>(config);
  // The caller's session with `need`, else the refusal is sent.
  auto authorize = [&sessions](HttpRequest& req, Responder& respond,
                               ApiRole need, std::string* who) {
    if (std::optional<HttpResponse> refused =
            AuthorizeConsoleSession(sessions, req, need, who)) {
      AddHeaders(*refused);
      respond(*std::move(refused));
      return false;
    }
    req.NotePrincipal(*who);
    return true;
  };
  router.Handle(
      "GET", "/ui/api/approvals",
      [desk, authorize](HttpRequest& req, Responder respond) {
        std::string who;
        if (!authorize(req, respond, ApiRole::kRead, &who)) return;
        std::string state;
        if (req.HasQueryParam("state")) {
          state = req.QueryParam("state");
          if (std::find(std::begin(kStates), std::end(kStates), state) ==
              std::end(kStates)) {
            return respond(Err(400, "invalid_argument",
                               "'state' must be pending, approved, denied, "
                               "expired or revoked"));
          }
        }
        if (!desk->configured()) {
          return respond(Json(200,
                              "{\"configured\":false,\"approvals\":[],"
                              "\"unavailable\":[]}"));
        }
        // A task holds the desk: it may outlive the auditor's router.
        Dispatch(*desk, std::move(respond), [d = desk, state] {
          return Json(200, ListApprovals(*d, state));
        });
      });
  for (const char* act : {"approve", "deny", "revoke"}) {
    router.Handle(
        "POST", absl::StrCat("/ui/api/approvals/{node}/{id}/", act),
        [desk, authorize, action = std::string(act)](HttpRequest& req,
                                                     Responder respond) {
          std::string who;
          if (!authorize(req, respond, ApiRole::kAdmin, &who)) return;
          if (!req.body.empty() &&
              !absl::StartsWithIgnoreCase(req.Header("content-type"),
                                          "application/json")) {
            return respond(
                Err(415, "unsupported_media_type", "send a JSON body"));
          }
          if (!desk->configured()) {
            return respond(Err(409, "failed_precondition",
                               "the auditor has no approvals.desk identity"));
          }
          const ApprovalDeskNode* node = desk->Find(req.path_params["node"]);
          if (node == nullptr) {
            return respond(Err(404, "not_found", "no such desk node"));
          }
          const std::string id = req.path_params["id"];
          if (!ValidApprovalId(id)) {
            return respond(Err(400, "invalid_argument", "not an approval id"));
          }
          absl::StatusOr<DecisionBody> body = ParseDecision(req.body, action);
          if (!body.ok()) {
            return respond(
                Err(400, "invalid_argument", body.status().message()));
          }
          Dispatch(*desk, std::move(respond),
                   [d = desk, node, id, action, b = *std::move(body), who] {
                     return Decide(*d, *node, id, action, b, who);
                   });
        });
  }
  router.Handle(
      "GET", "/ui/api/access-report",
      [desk, authorize](HttpRequest& req, Responder respond) {
        std::string who;
        if (!authorize(req, respond, ApiRole::kRead, &who)) return;
        const std::string subject = req.QueryParam("subject");
        if (!ValidSubject(subject)) {
          return respond(Err(400, "invalid_argument",
                             "query 'subject': 1 to 256 bytes, no control "
                             "characters"));
        }
        if (!desk->configured()) {
          return respond(Json(200,
                              "{\"configured\":false,\"entries\":[],"
                              "\"lookups\":[],\"unavailable\":[]}"));
        }
        Dispatch(*desk, std::move(respond), [d = desk, subject] {
          return Json(200, AccessReport(*d, subject));
        });
      });
}

}  // namespace clover::audit
