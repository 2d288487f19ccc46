#include "audit/policy_view.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "audit/auditor.h"
#include "audit/console.h"
#include "core/canonical_json.h"
#include "core/logger.h"
#include "core/rfc3339.h"
#include "crypto/secret_key_file.h"
#include "policy/analyzer.h"
#include "policy/attribute.h"
#include "policy/signature.h"
#include "rapidjson/document.h"

namespace clover::audit {
namespace {

namespace fs = std::filesystem;

constexpr char kUploadName[] = "uploaded.yaml";
// Bounds the work one upload may ask for: each rule (shadowing) and each
// invariant is one search of at most max_states states.
constexpr size_t kMaxUploadedRules = 1000;
constexpr size_t kMaxUploadedInvariants = 100;

std::string KvKey(absl::string_view origin, absl::string_view node) {
  return absl::StrCat(
      "policynode/",
      policy::Sha256Hex(absl::StrCat(origin, "\n", node)).substr(0, 32));
}

void Str(absl::string_view s, std::string* out) { AppendJsonString(s, out); }

std::string Millis(int64_t ms) {
  return FormatRfc3339Millis(absl::FromUnixMillis(ms));
}

// "principal.org in [a, b]" / "destination not in [eu]".
std::string ConditionText(const policy::Condition& c) {
  return absl::StrCat(policy::ToString(c.attribute),
                      c.negated ? " not in [" : " in [",
                      absl::StrJoin(c.values, ", "), "]");
}

std::string WhenText(const std::vector<policy::Condition>& when) {
  if (when.empty()) return "always";
  std::vector<std::string> parts;
  for (const policy::Condition& c : when) parts.push_back(ConditionText(c));
  return absl::StrJoin(parts, "; ");
}

std::map<std::string, std::string> ConditionsByAttribute(
    const std::vector<policy::Condition>& when) {
  std::map<std::string, std::string> out;
  for (const policy::Condition& c : when) {
    out[std::string(policy::ToString(c.attribute))] = ConditionText(c);
  }
  return out;
}

std::string RuleEffectText(const policy::Rule& r) {
  std::string out(policy::ToString(r.effect));
  if (r.effect == policy::Effect::kApproval) {
    absl::StrAppend(&out, " (approver_role ", r.approval.approver_role,
                    ", max_duration ",
                    absl::FormatDuration(r.approval.max_duration), ")");
  } else if (r.effect == policy::Effect::kAggregate) {
    absl::StrAppend(&out, " (epsilon ", r.aggregate.epsilon, ")");
  }
  return out;
}

std::string InvariantEffectText(const policy::Invariant& i) {
  return absl::StrCat(
      i.kind == policy::Invariant::Kind::kNever ? "never " : "always ",
      i.effects.ToString());
}

struct Change {
  std::string what, from, to;
};

void ChangesJson(const std::vector<Change>& changes, std::string* out) {
  *out += '[';
  for (size_t i = 0; i < changes.size(); ++i) {
    if (i > 0) *out += ',';
    *out += "{\"what\":";
    Str(changes[i].what, out);
    *out += ",\"from\":";
    Str(changes[i].from, out);
    *out += ",\"to\":";
    Str(changes[i].to, out);
    *out += '}';
  }
  *out += ']';
}

void CompareWhen(const std::vector<policy::Condition>& a,
                 const std::vector<policy::Condition>& b,
                 std::vector<Change>* changes) {
  std::map<std::string, std::string> ca = ConditionsByAttribute(a),
                                     cb = ConditionsByAttribute(b);
  std::map<std::string, std::pair<std::string, std::string>> all;
  for (const auto& [k, v] : ca) all[k].first = v;
  for (const auto& [k, v] : cb) all[k].second = v;
  for (const auto& [k, v] : all) {
    if (v.first == v.second) continue;
    changes->push_back({absl::StrCat("when ", k),
                        v.first.empty() ? "(no condition)" : v.first,
                        v.second.empty() ? "(no condition)" : v.second});
  }
}

// One item of a diff list: id, line, effect and conditions as text.
template <typename T, typename EffectText>
void ItemJson(const T& item, EffectText effect_text, std::string* out) {
  *out += "{\"id\":";
  Str(item.id, out);
  *out += ",\"effect\":";
  Str(effect_text(item), out);
  *out += ",\"when\":";
  Str(WhenText(item.when), out);
  absl::StrAppend(out, ",\"line\":", item.pos.line, "}");
}

template <typename T, typename EffectText, typename Compare>
void DiffList(const std::vector<T>& a, const std::vector<T>& b,
              EffectText effect_text, Compare compare, std::string* out) {
  std::map<std::string, size_t> ia, ib;
  for (size_t i = 0; i < a.size(); ++i) ia[a[i].id] = i;
  for (size_t i = 0; i < b.size(); ++i) ib[b[i].id] = i;
  *out += "{\"added\":[";
  bool first = true;
  for (const T& x : b) {
    if (ia.contains(x.id)) continue;
    if (!first) *out += ',';
    first = false;
    ItemJson(x, effect_text, out);
  }
  *out += "],\"removed\":[";
  first = true;
  for (const T& x : a) {
    if (ib.contains(x.id)) continue;
    if (!first) *out += ',';
    first = false;
    ItemJson(x, effect_text, out);
  }
  *out += "],\"changed\":[";
  first = true;
  size_t unchanged = 0;
  for (const T& x : b) {
    auto it = ia.find(x.id);
    if (it == ia.end()) continue;
    std::vector<Change> changes;
    compare(a[it->second], x, &changes);
    if (changes.empty()) {
      ++unchanged;
      continue;
    }
    if (!first) *out += ',';
    first = false;
    *out += "{\"id\":";
    Str(x.id, out);
    absl::StrAppend(out, ",\"line\":", x.pos.line, ",\"changes\":");
    ChangesJson(changes, out);
    *out += '}';
  }
  absl::StrAppend(out, "],\"unchanged\":", unchanged, "}");
}

void VersionJson(const policy::Bundle& b, std::string* out) {
  *out += "{\"sha256\":";
  Str(b.sha256, out);
  absl::StrAppend(out, ",\"version\":", b.version, ",\"description\":");
  Str(b.description, out);
  *out += '}';
}

void CounterexampleJson(const policy::Counterexample& c,
                        const policy::Bundle& bundle, std::string* out) {
  const policy::RequestData& r = c.request;
  *out += "{\"principal\":{\"id\":";
  Str(r.principal_id, out);
  *out += ",\"kind\":";
  Str(r.principal_kind, out);
  *out += ",\"org\":";
  Str(r.principal_org, out);
  *out += ",\"roles\":[";
  for (size_t i = 0; i < r.principal_roles.size(); ++i) {
    if (i > 0) *out += ',';
    Str(r.principal_roles[i], out);
  }
  *out += "],\"country\":";
  Str(r.principal_country, out);
  *out += ",\"jurisdiction\":";
  Str(r.principal_jurisdiction, out);
  *out += "},\"purpose\":";
  Str(r.purpose, out);
  *out += ",\"action\":";
  Str(r.action, out);
  *out += ",\"subject_jurisdiction\":";
  Str(r.subject_jurisdiction, out);
  *out += ",\"destination\":";
  Str(r.destination, out);
  *out += ",\"field\":{\"name\":";
  Str(c.field.name, out);
  *out += ",\"category\":";
  Str(c.field.category, out);
  absl::StrAppend(out,
                  ",\"restricted\":", c.field.restricted ? "true" : "false",
                  "},\"effect\":");
  Str(policy::ToString(c.effect), out);
  *out += ",\"deciding_rule\":";
  Str(c.deciding_rule >= 0 &&
              static_cast<size_t>(c.deciding_rule) < bundle.rules.size()
          ? bundle.rules[c.deciding_rule].id
          : "(default deny)",
      out);
  *out += ",\"text\":";
  Str(c.Describe(bundle), out);
  *out += '}';
}

absl::string_view FindingKind(policy::Finding::Kind k) {
  switch (k) {
    case policy::Finding::Kind::kInvariantViolated:
      return "invariant_violated";
    case policy::Finding::Kind::kShadowedRule:
      return "shadowed_rule";
    case policy::Finding::Kind::kUnknownName:
      return "unknown_name";
    case policy::Finding::Kind::kSearchLimit:
      return "search_limit";
  }
  return "unknown";
}

// The analysis of `b` as JSON: ok, states, every invariant with its proof
// (proven, or the finding and counterexample), and every finding.
std::string AnalysisJson(const policy::Bundle& b, uint64_t max_states,
                         bool* ok) {
  policy::AnalysisOptions options;
  options.max_states = max_states;
  const policy::AnalysisReport report = policy::Analyze(b, options);
  *ok = report.ok();
  std::string out =
      absl::StrCat("{\"ok\":", report.ok() ? "true" : "false",
                   ",\"states\":", report.states_visited,
                   ",\"rules\":", b.rules.size(), ",\"invariants\":[");
  for (size_t i = 0; i < b.invariants.size(); ++i) {
    const policy::Invariant& inv = b.invariants[i];
    const policy::Finding* found = nullptr;
    for (const policy::Finding& f : report.findings) {
      if (f.severity == policy::Finding::Severity::kError &&
          f.pos.line == inv.pos.line && f.pos.column == inv.pos.column) {
        found = &f;
      }
    }
    if (i > 0) out += ',';
    out += "{\"id\":";
    Str(inv.id, &out);
    out += ",\"description\":";
    Str(inv.description, &out);
    out += ",\"effect\":";
    Str(InvariantEffectText(inv), &out);
    out += ",\"when\":";
    Str(WhenText(inv.when), &out);
    absl::StrAppend(&out, ",\"line\":", inv.pos.line,
                    ",\"proven\":", found == nullptr ? "true" : "false");
    if (found != nullptr) {
      out += ",\"message\":";
      Str(found->message, &out);
      if (found->counterexample) {
        out += ",\"counterexample\":";
        CounterexampleJson(*found->counterexample, b, &out);
      }
    }
    out += '}';
  }
  out += "],\"findings\":[";
  for (size_t i = 0; i < report.findings.size(); ++i) {
    const policy::Finding& f = report.findings[i];
    if (i > 0) out += ',';
    out += "{\"severity\":";
    Str(f.severity == policy::Finding::Severity::kError ? "error" : "warning",
        &out);
    out += ",\"kind\":";
    Str(FindingKind(f.kind), &out);
    absl::StrAppend(&out, ",\"line\":", f.pos.line,
                    ",\"column\":", f.pos.column, ",\"message\":");
    Str(f.message, &out);
    if (f.counterexample) {
      out += ",\"counterexample\":";
      CounterexampleJson(*f.counterexample, b, &out);
    }
    out += '}';
  }
  out += "]}";
  return out;
}

void AddHeaders(server::HttpResponse& r) {
  r.headers.emplace_back("Content-Security-Policy", kConsoleCsp);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Cache-Control", "no-store");
}

server::HttpResponse Err(int status, absl::string_view code,
                         absl::string_view message) {
  server::HttpResponse r = server::HttpResponse::Error(status, code, message);
  AddHeaders(r);
  return r;
}

server::HttpResponse Ok(std::string body) {
  server::HttpResponse r = server::HttpResponse::Json(200, std::move(body));
  AddHeaders(r);
  return r;
}

bool IsHexHash(absl::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// State shared by the handlers: the analysis of each known version (a pure
// function of its bytes) is computed once.
struct PolicyViewState {
  Auditor* auditor;
  ConsoleSessions* sessions;
  PolicyViewOptions options;
  absl::Mutex mu;
  std::map<std::string, std::string> analyses ABSL_GUARDED_BY(mu);
  // Serialises signing, so two uploads of one bundle store it once.
  absl::Mutex sign_mu;
  // One upload analysed at a time: the searches are CPU-bound, and a session
  // must not be able to occupy every server thread with them.
  absl::Mutex analyze_mu;

  std::string AnalyzeUpload(const policy::Bundle& b, bool* ok) {
    absl::MutexLock lock(&analyze_mu);
    return AnalysisJson(b, options.max_states, ok);
  }

  std::string Analysis(const policy::Bundle& b) {
    {
      absl::MutexLock lock(&mu);
      auto it = analyses.find(b.sha256);
      if (it != analyses.end()) return it->second;
    }
    bool ok = false;
    std::string json = AnalysisJson(b, options.max_states, &ok);
    absl::MutexLock lock(&mu);
    analyses[b.sha256] = json;
    return json;
  }

  std::optional<SignedPolicy> Find(absl::string_view sha256) {
    for (SignedPolicy& p : auditor->SignedPolicies()) {
      if (p.sha256 == sha256) return std::move(p);
    }
    return std::nullopt;
  }

  // The hash most nodes decide with now (the newest known version if none).
  std::string InForce() {
    std::map<std::string, int> count;
    for (const PolicyTimeline::Node& n : auditor->PolicyNodes()) {
      if (!n.runs.empty()) count[n.runs.back().sha256]++;
    }
    std::string best;
    int most = 0;
    for (const auto& [h, c] : count) {
      if (c > most && Find(h)) best = h, most = c;
    }
    if (best.empty()) {
      std::vector<SignedPolicy> known = auditor->SignedPolicies();
      if (!known.empty()) best = known.back().sha256;
    }
    return best;
  }
};

// The session check of every route; on refusal the response has been sent.
bool Authorized(PolicyViewState& s, server::HttpRequest& req,
                server::Responder& respond, ApiRole need,
                std::string* who_out = nullptr) {
  std::string who;
  if (std::optional<server::HttpResponse> refused =
          AuthorizeConsoleSession(*s.sessions, req, need, &who)) {
    AddHeaders(*refused);
    respond(*std::move(refused));
    return false;
  }
  req.NotePrincipal(who);
  if (who_out != nullptr) *who_out = std::move(who);
  return true;
}

// Parses the {"bundle": "<YAML>"} body; on failure sends the 4xx.
std::optional<policy::Bundle> UploadedBundle(const server::HttpRequest& req,
                                             server::Responder& respond,
                                             std::string* text) {
  if (!absl::StartsWithIgnoreCase(req.Header("content-type"),
                                  "application/json")) {
    respond(Err(415, "unsupported_media_type",
                "send {\"bundle\": \"<the bundle's YAML>\"} as JSON"));
    return std::nullopt;
  }
  if (req.body.size() > 2 * kMaxUploadedBundleBytes + 64) {
    respond(Err(413, "payload_too_large",
                absl::StrCat("a bundle is at most ", kMaxUploadedBundleBytes,
                             " bytes")));
    return std::nullopt;
  }
  rapidjson::Document d;
  d.Parse(req.body.data(), req.body.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("bundle") ||
      !d["bundle"].IsString()) {
    respond(Err(400, "invalid_argument",
                "send {\"bundle\": \"<the bundle's YAML>\"} as JSON"));
    return std::nullopt;
  }
  text->assign(d["bundle"].GetString(), d["bundle"].GetStringLength());
  if (text->size() > kMaxUploadedBundleBytes) {
    respond(Err(413, "payload_too_large",
                absl::StrCat("a bundle is at most ", kMaxUploadedBundleBytes,
                             " bytes")));
    return std::nullopt;
  }
  if (text->empty() || text->find('\0') != std::string::npos) {
    respond(Err(400, "invalid_argument", "the bundle is empty or binary"));
    return std::nullopt;
  }
  absl::StatusOr<policy::Bundle> b = policy::ParseBundle(*text, kUploadName);
  if (b.ok() && (b->rules.size() > kMaxUploadedRules ||
                 b->invariants.size() > kMaxUploadedInvariants)) {
    respond(Err(
        400, "invalid_argument",
        absl::StrCat("a bundle has at most ", kMaxUploadedRules, " rules and ",
                     kMaxUploadedInvariants, " invariants")));
    return std::nullopt;
  }
  if (!b.ok()) {
    // "uploaded.yaml:LINE:COL: ..." names the line; say it as members too.
    std::string body = "{\"error\":{\"code\":\"invalid_argument\",\"message\":";
    Str(b.status().message(), &body);
    absl::string_view m = b.status().message();
    int line = 0, column = 0;
    if (absl::ConsumePrefix(&m, absl::StrCat(kUploadName, ":"))) {
      std::vector<absl::string_view> p =
          absl::StrSplit(m, absl::MaxSplits(':', 2));
      if (p.size() == 3 && absl::SimpleAtoi(p[0], &line) &&
          absl::SimpleAtoi(p[1], &column)) {
        absl::StrAppend(&body, ",\"line\":", line, ",\"column\":", column);
      }
    }
    body += "}}";
    server::HttpResponse r = server::HttpResponse::Json(400, std::move(body));
    AddHeaders(r);
    respond(std::move(r));
    return std::nullopt;
  }
  return *std::move(b);
}

// {"bundle":…, "analysis":…, "diff_against":…, "diff":…} of an upload.
std::string CheckJson(PolicyViewState& s, const policy::Bundle& b,
                      const std::string& analysis) {
  std::string out = "{\"bundle\":";
  VersionJson(b, &out);
  out += ",\"analysis\":";
  out += analysis;
  const std::string base = s.InForce();
  if (std::optional<SignedPolicy> p = s.Find(base)) {
    out += ",\"diff\":";
    out += PolicyDiffJson(p->policy->bundle(), b);
  }
  out += '}';
  return out;
}

}  // namespace

void PolicyTimeline::Observe(absl::string_view origin, absl::string_view node,
                             absl::string_view sha256, absl::Time time,
                             uint64_t index) {
  const std::string key = KvKey(origin, node);
  Node& n = nodes_[key];
  if (n.origin.empty()) {
    n.origin = std::string(origin);
    n.node = std::string(node);
  }
  const int64_t ms = absl::ToUnixMillis(time);
  if (n.runs.empty() || n.runs.back().sha256 != sha256) {
    if (n.runs.size() >= kMaxRuns) n.runs.erase(n.runs.begin());
    n.runs.push_back(Run{std::string(sha256), ms, ms, index, index, 0});
  }
  Run& r = n.runs.back();
  r.first_ms = std::min(r.first_ms, ms);
  r.last_ms = std::max(r.last_ms, ms);
  r.last_index = std::max(r.last_index, index);
  ++r.decisions;
  dirty_.insert(key);
}

void PolicyTimeline::Flush(kv::KvBatch& batch) {
  for (const std::string& key : dirty_) {
    const Node& n = nodes_[key];
    // origin, node, then one run a line; none of them holds a newline (origins
    // and node names are checked names, hashes hex).
    std::string v = absl::StrCat(n.origin, "\n", n.node);
    for (const Run& r : n.runs) {
      absl::StrAppend(&v, "\n", r.sha256, " ", r.first_ms, " ", r.last_ms, " ",
                      r.first_index, " ", r.last_index, " ", r.decisions);
    }
    batch.Put(key, v);
  }
  dirty_.clear();
}

absl::Status PolicyTimeline::Load(kv::KvStore& kv) {
  return kv.Scan("policynode/", [&](absl::string_view k, absl::string_view v) {
    std::vector<absl::string_view> lines = absl::StrSplit(v, '\n');
    if (lines.size() < 2) return true;
    Node n;
    n.origin = std::string(lines[0]);
    n.node = std::string(lines[1]);
    for (size_t i = 2; i < lines.size(); ++i) {
      std::vector<absl::string_view> p = absl::StrSplit(lines[i], ' ');
      Run r;
      if (p.size() != 6 || !absl::SimpleAtoi(p[1], &r.first_ms) ||
          !absl::SimpleAtoi(p[2], &r.last_ms) ||
          !absl::SimpleAtoi(p[3], &r.first_index) ||
          !absl::SimpleAtoi(p[4], &r.last_index) ||
          !absl::SimpleAtoi(p[5], &r.decisions)) {
        continue;
      }
      r.sha256 = std::string(p[0]);
      n.runs.push_back(std::move(r));
    }
    nodes_[std::string(k)] = std::move(n);
    return true;
  });
}

std::vector<PolicyTimeline::Node> PolicyTimeline::Nodes() const {
  std::vector<Node> out;
  out.reserve(nodes_.size());
  for (const auto& [k, n] : nodes_) out.push_back(n);
  std::sort(out.begin(), out.end(), [](const Node& a, const Node& b) {
    return std::tie(a.origin, a.node) < std::tie(b.origin, b.node);
  });
  return out;
}

std::string SignedPolicyDir(const AuditorConfig& config) {
  return config.data_dir + "/signed-policies";
}

std::vector<std::string> SignedPolicyFiles(const AuditorConfig& config) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(SignedPolicyDir(config), ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file(ec) && absl::EndsWith(name, ".yaml") &&
        IsHexHash(name.substr(0, name.size() - 5))) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string PolicyDiffJson(const policy::Bundle& from,
                           const policy::Bundle& to) {
  std::string out = "{\"from\":";
  VersionJson(from, &out);
  out += ",\"to\":";
  VersionJson(to, &out);
  // Each rule's rank among the rules both versions have: file order decides
  // between rules of one effect (the deciding rule), so a move is a change,
  // while lines shifted by an insertion above are not.
  auto ranks = [](const std::vector<policy::Rule>& rules,
                  const std::vector<policy::Rule>& other) {
    std::map<std::string, size_t> in_other, out;
    for (const policy::Rule& r : other) in_other[r.id] = 0;
    for (const policy::Rule& r : rules) {
      if (in_other.contains(r.id)) out.emplace(r.id, out.size() + 1);
    }
    return out;
  };
  const std::map<std::string, size_t> rank_from = ranks(from.rules, to.rules),
                                      rank_to = ranks(to.rules, from.rules);
  out += ",\"rules\":";
  DiffList(
      from.rules, to.rules, RuleEffectText,
      [&](const policy::Rule& a, const policy::Rule& b,
          std::vector<Change>* changes) {
        if (RuleEffectText(a) != RuleEffectText(b))
          changes->push_back({"effect", RuleEffectText(a), RuleEffectText(b)});
        CompareWhen(a.when, b.when, changes);
        if (a.description != b.description)
          changes->push_back({"description", a.description, b.description});
        const size_t ra = rank_from.at(a.id), rb = rank_to.at(b.id);
        if (ra != rb) {
          changes->push_back(
              {"order among common rules", absl::StrCat(ra), absl::StrCat(rb)});
        }
      },
      &out);
  out += ",\"invariants\":";
  DiffList(
      from.invariants, to.invariants, InvariantEffectText,
      [](const policy::Invariant& a, const policy::Invariant& b,
         std::vector<Change>* changes) {
        if (InvariantEffectText(a) != InvariantEffectText(b)) {
          changes->push_back(
              {"effect", InvariantEffectText(a), InvariantEffectText(b)});
        }
        CompareWhen(a.when, b.when, changes);
        if (a.description != b.description) {
          changes->push_back({"description", a.description, b.description});
        }
      },
      &out);
  out += '}';
  return out;
}

void RegisterPolicyRoutes(server::Router& router, Auditor& auditor,
                          ConsoleSessions& sessions,
                          PolicyViewOptions options) {
  auto s = std::make_shared<PolicyViewState>();
  s->auditor = &auditor;
  s->sessions = &sessions;
  s->options = std::move(options);

  router.Handle(
      "GET", "/ui/api/policy",
      [s](server::HttpRequest& req, server::Responder respond) {
        if (!Authorized(*s, req, respond, ApiRole::kRead)) return;
        std::string out = "{\"versions\":[";
        bool first = true;
        for (const SignedPolicy& p : s->auditor->SignedPolicies()) {
          if (!first) out += ',';
          first = false;
          const policy::Bundle& b = p.policy->bundle();
          out += "{\"sha256\":";
          Str(p.sha256, &out);
          absl::StrAppend(&out, ",\"version\":", p.version,
                          ",\"description\":");
          Str(p.description, &out);
          out += ",\"file\":";
          Str(fs::path(p.path).filename().string(), &out);
          out += ",\"analysis\":";
          out += s->Analysis(b);
          out += '}';
        }
        out += "],\"nodes\":[";
        first = true;
        for (const PolicyTimeline::Node& n : s->auditor->PolicyNodes()) {
          if (n.runs.empty()) continue;
          if (!first) out += ',';
          first = false;
          out += "{\"origin\":";
          Str(n.origin, &out);
          out += ",\"node\":";
          Str(n.node, &out);
          out += ",\"runs\":[";
          for (size_t i = 0; i < n.runs.size(); ++i) {
            const PolicyTimeline::Run& r = n.runs[i];
            if (i > 0) out += ',';
            out += "{\"sha256\":";
            Str(r.sha256, &out);
            out += ",\"since\":";
            Str(Millis(r.first_ms), &out);
            out += ",\"last\":";
            Str(Millis(r.last_ms), &out);
            absl::StrAppend(&out, ",\"first_index\":", r.first_index,
                            ",\"last_index\":", r.last_index,
                            ",\"decisions\":", r.decisions, ",\"signed\":",
                            s->Find(r.sha256) ? "true" : "false", "}");
          }
          out += "]}";
        }
        absl::StrAppend(&out, "],\"can_sign\":",
                        s->options.signing_key_file.empty() ? "false" : "true",
                        ",\"max_bundle_bytes\":", kMaxUploadedBundleBytes, "}");
        respond(Ok(std::move(out)));
      });

  router.Handle(
      "GET", "/ui/api/policy/diff",
      [s](server::HttpRequest& req, server::Responder respond) {
        if (!Authorized(*s, req, respond, ApiRole::kRead)) return;
        const std::string from = req.QueryParam("from");
        const std::string to = req.QueryParam("to");
        if (!IsHexHash(from) || !IsHexHash(to)) {
          respond(Err(400, "invalid_argument",
                      "query 'from' and 'to': a version's sha256 (64 "
                      "lower-case hex digits)"));
          return;
        }
        std::optional<SignedPolicy> a = s->Find(from), b = s->Find(to);
        if (!a || !b) {
          respond(Err(404, "not_found", "no such policy version"));
          return;
        }
        respond(Ok(PolicyDiffJson(a->policy->bundle(), b->policy->bundle())));
      });

  router.Handle(
      "GET", "/ui/api/policy/file",
      [s](server::HttpRequest& req, server::Responder respond) {
        if (!Authorized(*s, req, respond, ApiRole::kRead)) return;
        const std::string h = req.QueryParam("sha256");
        const std::string part = req.QueryParam("part");
        if (!IsHexHash(h) || (part != "bundle" && part != "signature")) {
          respond(Err(400, "invalid_argument",
                      "query 'sha256': a version's hash; 'part': bundle or "
                      "signature"));
          return;
        }
        std::optional<SignedPolicy> p = s->Find(h);
        if (!p) {
          respond(Err(404, "not_found", "no such policy version"));
          return;
        }
        const std::string path =
            part == "bundle" ? p->path : policy::SignaturePath(p->path);
        absl::StatusOr<std::string> bytes = policy::ReadFileToString(path);
        // The bytes served are those the signature covers, or nothing.
        if (bytes.ok() && part == "bundle" &&
            policy::Sha256Hex(*bytes) != p->sha256) {
          bytes = absl::DataLossError("the stored bundle changed");
        }
        if (!bytes.ok()) {
          logging::Warn("policy file unreadable",
                        {{"path", path},
                         {"status", std::string(bytes.status().message())}});
          respond(Err(404, "not_found", "the version's file is not readable"));
          return;
        }
        const std::string name =
            absl::StrCat("policy-", h.substr(0, 12), ".yaml",
                         part == "signature" ? ".sig" : "");
        server::HttpResponse r;
        r.content_type =
            part == "bundle" ? "application/yaml" : "text/plain; charset=utf-8";
        r.body = *std::move(bytes);
        r.headers.emplace_back(
            "Content-Disposition",
            absl::StrCat("attachment; filename=\"", name, "\""));
        AddHeaders(r);
        respond(std::move(r));
      });

  router.Handle("POST", "/ui/api/policy/check",
                [s](server::HttpRequest& req, server::Responder respond) {
                  if (!Authorized(*s, req, respond, ApiRole::kRead)) return;
                  std::string text;
                  std::optional<policy::Bundle> b =
                      UploadedBundle(req, respond, &text);
                  if (!b) return;
                  bool ok = false;
                  const std::string analysis = s->AnalyzeUpload(*b, &ok);
                  respond(Ok(CheckJson(*s, *b, analysis)));
                });

  router.Handle(
      "POST", "/ui/api/policy/sign",
      [s](server::HttpRequest& req, server::Responder respond) {
        std::string who;
        if (!Authorized(*s, req, respond, ApiRole::kAdmin, &who)) return;
        if (s->options.signing_key_file.empty()) {
          respond(Err(501, "unimplemented",
                      "this auditor has no policy-signing key "
                      "(policies.signing_key_file)"));
          return;
        }
        std::string text;
        std::optional<policy::Bundle> b = UploadedBundle(req, respond, &text);
        if (!b) return;
        bool ok = false;
        const std::string analysis = s->AnalyzeUpload(*b, &ok);
        if (!ok) {
          // Refused: nothing is signed or stored; the findings (with their
          // counterexamples) say why.
          std::string body =
              "{\"error\":{\"code\":\"failed_precondition\",\"message\":";
          Str(absl::StrCat("not signed: the bundle (sha256 ", b->sha256,
                           ") fails its checks"),
              &body);
          body += "},\"bundle\":";
          VersionJson(*b, &body);
          body += ",\"analysis\":";
          body += analysis;
          body += '}';
          logging::Info("policy signing refused",
                        {{"principal", who}, {"sha256", b->sha256}});
          server::HttpResponse r =
              server::HttpResponse::Json(422, std::move(body));
          AddHeaders(r);
          respond(std::move(r));
          return;
        }
        // The diff against what most nodes use before this one is added.
        std::optional<SignedPolicy> base = s->Find(s->InForce());
        absl::MutexLock lock(&s->sign_mu);
        absl::StatusOr<std::string> key =
            ReadKeyFile(s->options.signing_key_file, true);
        absl::StatusOr<std::string> note =
            key.ok() ? policy::SignPolicy(b->sha256, *key) : key.status();
        if (!note.ok()) {
          // Never the key itself; the status names the file at most.
          logging::Error("policy signing failed",
                         {{"status", std::string(note.status().message())}});
          respond(Err(500, "internal", "the policy-signing key is unusable"));
          return;
        }
        std::error_code ec;
        fs::create_directories(s->options.store_dir, ec);
        const std::string path =
            absl::StrCat(s->options.store_dir, "/", b->sha256, ".yaml");
        // A version stored before stays as it is (its files are not this
        // request's to replace or remove).
        if (fs::exists(path, ec) ||
            fs::exists(policy::SignaturePath(path), ec)) {
          respond(Err(409, "already_exists",
                      absl::StrCat("version ", b->sha256,
                                   " is already signed and stored")));
          return;
        }
        absl::Status st = crypto::WritePrivateFile(path, text);
        const bool wrote_bundle = st.ok();
        if (st.ok())
          st = crypto::WritePrivateFile(policy::SignaturePath(path), *note);
        const bool wrote_signature = wrote_bundle && st.ok();
        // Replay accepts the version from now on (it verifies what it reads
        // back, so a key that is not among policies.auditor_keys fails here).
        if (st.ok()) st = s->auditor->AddSignedPolicy(path);
        if (!st.ok()) {
          // Only the files this request created.
          if (wrote_bundle) fs::remove(path, ec);
          if (wrote_signature) fs::remove(policy::SignaturePath(path), ec);
          logging::Error(
              "signed policy not stored",
              {{"path", path}, {"status", std::string(st.message())}});
          respond(Err(500, "internal", "the signed version was not stored"));
          return;
        }
        logging::Info("policy signed", {{"principal", who},
                                        {"sha256", b->sha256},
                                        {"version", absl::StrCat(b->version)}});
        std::string out = "{\"status\":\"signed\",\"bundle\":";
        VersionJson(*b, &out);
        out += ",\"signature\":";
        Str(*note, &out);
        out += ",\"analysis\":";
        out += analysis;
        if (base) {
          out += ",\"diff\":";
          out += PolicyDiffJson(base->policy->bundle(), *b);
        }
        out += '}';
        respond(Ok(std::move(out)));
      });
}

}  // namespace clover::audit
