#include "audit/console.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "audit/auditor.h"
#include "audit/console_assets.h"
#include "audit/console_pages.h"
#include "core/canonical_json.h"
#include "core/json_fields.h"
#include "core/logger.h"
#include "core/rfc3339.h"
#include "crypto/constant_time.h"
#include "crypto/random.h"
#include "crypto/sha256.h"
#include "rapidjson/document.h"

namespace clover::audit {
namespace {

std::string Digest(absl::string_view id) {
  crypto::Sha256Digest d = crypto::Sha256(id);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

absl::StatusOr<std::string> RandomToken() {
  absl::StatusOr<std::string> raw = crypto::RandomString(32);
  if (!raw.ok()) return raw.status();
  return absl::WebSafeBase64Escape(*raw);
}

// The headers every /ui response carries.
void AddSecurityHeaders(server::HttpResponse& r, bool cache) {
  r.headers.emplace_back("Content-Security-Policy", kConsoleCsp);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  r.headers.emplace_back("Cache-Control", cache ? "no-cache" : "no-store");
}

server::HttpResponse UiError(int status, absl::string_view code,
                             absl::string_view message) {
  server::HttpResponse r = server::HttpResponse::Error(status, code, message);
  AddSecurityHeaders(r, false);
  return r;
}

server::HttpResponse UiJson(std::string body) {
  server::HttpResponse r = server::HttpResponse::Json(200, std::move(body));
  AddSecurityHeaders(r, false);
  return r;
}

absl::string_view RoleName(ApiRole role) {
  return role == ApiRole::kAdmin ? "admin" : "read";
}

std::string SessionJson(const ConsoleSessions::Session& s) {
  std::string out = "{\"who\":";
  AppendJsonString(s.who, &out);
  out += ",\"role\":";
  AppendJsonString(RoleName(s.role), &out);
  out += ",\"csrf_token\":";
  AppendJsonString(s.csrf_token, &out);
  out += ",\"expires\":";
  AppendJsonString(FormatRfc3339Millis(s.expires), &out);
  out += "}";
  return out;
}

std::string CookieHeader(absl::string_view value, absl::Duration max_age,
                         bool secure) {
  return absl::StrCat(kConsoleSessionCookie, "=", value,
                      "; Path=/; HttpOnly; SameSite=Strict; Max-Age=",
                      absl::ToInt64Seconds(max_age), secure ? "; Secure" : "");
}

bool SafeMethod(absl::string_view method) {
  return method == "GET" || method == "HEAD";
}

// An Origin header, when present, must be this host (http or https).
bool SameOrigin(const server::HttpRequest& req) {
  absl::string_view origin = req.Header("origin");
  if (origin.empty()) return true;
  absl::string_view host = req.Header("host");
  return !host.empty() && (origin == absl::StrCat("http://", host) ||
                           origin == absl::StrCat("https://", host));
}

const ConsoleAsset* FindAsset(absl::string_view path) {
  for (const ConsoleAsset& a : ConsoleAssets()) {
    if (path == a.path) return &a;
  }
  return nullptr;
}

}  // namespace

ConsoleSessions::ConsoleSessions(const Clock& clock, ConsoleOptions options)
    : clock_(clock), options_(options) {}

absl::StatusOr<ConsoleSessions::Session> ConsoleSessions::Create(
    std::string who, ApiRole role, std::string* id) {
  absl::StatusOr<std::string> sid = RandomToken();
  if (!sid.ok()) return sid.status();
  absl::StatusOr<std::string> csrf = RandomToken();
  if (!csrf.ok()) return csrf.status();
  Session s{std::move(who), role, *std::move(csrf),
            clock_.Now() + options_.session_ttl};
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  absl::erase_if(sessions_,
                 [&](const auto& kv) { return kv.second.expires <= now; });
  while (sessions_.size() >= std::max<size_t>(1, options_.max_sessions)) {
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second.expires < oldest->second.expires) oldest = it;
    }
    sessions_.erase(oldest);
  }
  sessions_[Digest(*sid)] = s;
  *id = *std::move(sid);
  return s;
}

std::optional<ConsoleSessions::Session> ConsoleSessions::Find(
    absl::string_view id) {
  if (id.empty()) return std::nullopt;
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(Digest(id));
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.expires <= clock_.Now()) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void ConsoleSessions::Remove(absl::string_view id) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(Digest(id));
}

std::string RequestCookie(const server::HttpRequest& req,
                          absl::string_view name) {
  for (absl::string_view part :
       absl::StrSplit(req.Header("cookie"), ';', absl::SkipEmpty())) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, name) && absl::ConsumePrefix(&part, "=")) {
      return std::string(part);
    }
  }
  return "";
}

std::optional<server::HttpResponse> AuthorizeConsoleSession(
    ConsoleSessions& sessions, const server::HttpRequest& req, ApiRole need,
    std::string* who) {
  std::optional<ConsoleSessions::Session> s =
      sessions.Find(RequestCookie(req, kConsoleSessionCookie));
  if (!s) {
    return server::HttpResponse::Error(
        401, "unauthenticated",
        "no live console session: log in at /ui/ (or send a bearer token)");
  }
  if (!SafeMethod(req.method)) {
    absl::string_view presented = req.Header("x-csrf-token");
    if (presented.empty() ||
        !crypto::ConstantTimeEquals(presented, s->csrf_token) ||
        !SameOrigin(req)) {
      return server::HttpResponse::Error(
          403, "csrf_failed",
          "a change through a console session needs its X-CSRF-Token");
    }
  }
  if (need == ApiRole::kAdmin && s->role != ApiRole::kAdmin) {
    return server::HttpResponse::Error(
        403, "permission_denied",
        "this credential may read but not change incidents");
  }
  *who = s->who;
  return std::nullopt;
}

std::string PublicSummaryJson(Auditor& auditor, absl::Time now, int days) {
  const absl::Time to = now;
  const absl::Time from = now - absl::Hours(24 * days);
  rapidjson::Document flows;
  const std::string flows_json = auditor.FlowsJson(from, to);
  flows.Parse(flows_json.data(), flows_json.size());
  // (day, origin region, destination, purpose, action) -> requests, records.
  std::map<std::tuple<std::string, std::string, std::string, std::string,
                      std::string>,
           std::pair<int64_t, int64_t>>
      transfers;
  // (day, origin region, destination, purpose, effect) -> field decisions.
  std::map<std::tuple<std::string, std::string, std::string, std::string,
                      std::string>,
           int64_t>
      decisions;
  // (origin region, destination) -> out_of_region as JSON (true/false/null).
  std::map<std::pair<std::string, std::string>, std::string> out_of_region;
  auto day = [](const rapidjson::Value& v) {
    std::string h = v.IsString() ? v.GetString() : "";
    return h.substr(0, 10);
  };
  auto str = [](const rapidjson::Value& o, const char* k) {
    return o.HasMember(k) && o[k].IsString() ? std::string(o[k].GetString())
                                             : std::string();
  };
  auto num = [](const rapidjson::Value& o, const char* k) -> int64_t {
    return o.HasMember(k) && o[k].IsInt64() ? o[k].GetInt64() : 0;
  };
  auto note_out = [&](const rapidjson::Value& o) {
    const bool known =
        o.HasMember("out_of_region") && o["out_of_region"].IsBool();
    out_of_region[{str(o, "region"), str(o, "destination")}] =
        !known ? "null" : (o["out_of_region"].GetBool() ? "true" : "false");
  };
  if (flows.IsObject() && flows.HasMember("transfers") &&
      flows["transfers"].IsArray()) {
    for (const auto& t : flows["transfers"].GetArray()) {
      if (!t.IsObject() || !t.HasMember("hour")) continue;
      auto& c =
          transfers[{day(t["hour"]), str(t, "region"), str(t, "destination"),
                     str(t, "purpose"), str(t, "action")}];
      c.first += num(t, "requests");
      c.second += num(t, "records");
      note_out(t);
    }
  }
  if (flows.IsObject() && flows.HasMember("flows") &&
      flows["flows"].IsArray()) {
    for (const auto& f : flows["flows"].GetArray()) {
      if (!f.IsObject() || !f.HasMember("hour")) continue;
      decisions[{day(f["hour"]), str(f, "region"), str(f, "destination"),
                 str(f, "purpose"), str(f, "effect")}] += num(f, "decisions");
      note_out(f);
    }
  }
  // `"region":..,"destination":..,"out_of_region":..` of a row.
  auto where = [&](std::string& out, const std::string& region,
                   const std::string& destination) {
    out += ",\"region\":";
    AppendJsonString(region, &out);
    out += ",\"destination\":";
    AppendJsonString(destination, &out);
    out += ",\"out_of_region\":";
    out += out_of_region[{region, destination}];
  };
  std::string out = "{\"from\":";
  AppendJsonString(FormatRfc3339Millis(from), &out);
  out += ",\"to\":";
  AppendJsonString(FormatRfc3339Millis(to), &out);
  out += ",\"accesses\":[";
  bool first = true;
  for (const auto& [k, v] : transfers) {
    if (!first) out += ',';
    first = false;
    out += "{\"day\":";
    AppendJsonString(std::get<0>(k), &out);
    where(out, std::get<1>(k), std::get<2>(k));
    out += ",\"purpose\":";
    AppendJsonString(std::get<3>(k), &out);
    out += ",\"action\":";
    AppendJsonString(std::get<4>(k), &out);
    absl::StrAppend(&out, ",\"requests\":", v.first, ",\"records\":", v.second,
                    "}");
  }
  out += "],\"field_decisions\":[";
  first = true;
  for (const auto& [k, v] : decisions) {
    if (!first) out += ',';
    first = false;
    out += "{\"day\":";
    AppendJsonString(std::get<0>(k), &out);
    where(out, std::get<1>(k), std::get<2>(k));
    out += ",\"purpose\":";
    AppendJsonString(std::get<3>(k), &out);
    out += ",\"effect\":";
    AppendJsonString(std::get<4>(k), &out);
    absl::StrAppend(&out, ",\"decisions\":", v, "}");
  }
  // Counts only: no summary, evidence or staff identity leaves here.
  std::map<std::string, std::map<std::string, int64_t>> by_severity;
  for (const Incident& i : auditor.incidents().List(std::nullopt)) {
    by_severity[std::string(ToString(i.severity))]
               [std::string(ToString(i.status))]++;
  }
  out += "],\"incidents\":{";
  first = true;
  for (const auto& [sev, statuses] : by_severity) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(sev, &out);
    out += ":{";
    bool f2 = true;
    for (const auto& [st, n] : statuses) {
      if (!f2) out += ',';
      f2 = false;
      AppendJsonString(st, &out);
      absl::StrAppend(&out, ":", n);
    }
    out += "}";
  }
  out += "},\"checkpoints\":[";
  first = true;
  for (const auto& f : auditor.followers()) {
    if (!first) out += ',';
    first = false;
    out += "{\"origin\":";
    AppendJsonString(f->origin(), &out);
    absl::StrAppend(&out, ",\"size\":", f->checkpoint().size,
                    ",\"checkpoint\":");
    AppendJsonString(f->checkpoint_note(), &out);
    out += "}";
  }
  out += "]";
  // Legacy-migration deletions verified: totals only (no source names).
  uint64_t batches = 0, records = 0, verified = 0, unverified = 0,
           unchecked = 0;
  for (const MigrationSummary& m : auditor.MigrationSummaries()) {
    batches += m.batches;
    records += m.records;
    verified += m.verified;
    unverified += m.unverified;
    unchecked += m.unchecked;
  }
  absl::StrAppend(&out, ",\"legacy_deletions\":{\"batches\":", batches,
                  ",\"records\":", records, ",\"verified\":", verified,
                  ",\"unverified\":", unverified, ",\"unchecked\":", unchecked,
                  "}}");
  return out;
}

void RegisterConsoleRoutes(server::Router& router, Auditor& auditor,
                           ConsoleSessions& sessions, ConsoleTokenCheck check) {
  router.Handle("GET", "/ui",
                [](server::HttpRequest&, server::Responder respond) {
                  server::HttpResponse r;
                  r.status = 308;
                  r.content_type = "text/plain; charset=utf-8";
                  r.headers.emplace_back("Location", "/ui/");
                  AddSecurityHeaders(r, false);
                  respond(std::move(r));
                });
  router.Handle(
      "GET", "/ui/*", [](server::HttpRequest& req, server::Responder respond) {
        std::string path = req.path_params["*"];
        if (path.empty()) path = "index.html";
        if (absl::StrContains(path, "..") || absl::StrContains(path, '\\') ||
            absl::StrContains(path, '\0') || absl::StartsWith(path, "/")) {
          respond(UiError(400, "invalid_argument", "not a console file name"));
          return;
        }
        const ConsoleAsset* a = FindAsset(path);
        if (a == nullptr || absl::StartsWith(path, "api/")) {
          respond(UiError(404, "not_found", "no such console file"));
          return;
        }
        server::HttpResponse r;
        r.content_type = a->content_type;
        r.body.assign(reinterpret_cast<const char*>(a->data), a->size);
        AddSecurityHeaders(r, true);
        respond(std::move(r));
      });
  router.Handle(
      "POST", "/ui/api/login",
      [&sessions, check](server::HttpRequest& req, server::Responder respond) {
        if (!absl::StartsWithIgnoreCase(req.Header("content-type"),
                                        "application/json")) {
          respond(UiError(415, "unsupported_media_type",
                          "log in with a JSON body {\"token\":\"...\"}"));
          return;
        }
        if (!SameOrigin(req)) {
          respond(UiError(403, "csrf_failed", "cross-origin login refused"));
          return;
        }
        rapidjson::Document d;
        d.Parse(req.body.data(), req.body.size());
        if (d.HasParseError() || !d.IsObject() || !d.HasMember("token") ||
            !d["token"].IsString()) {
          respond(UiError(400, "invalid_argument",
                          "log in with a JSON body {\"token\":\"...\"}"));
          return;
        }
        std::optional<std::pair<std::string, ApiRole>> who =
            check(absl::string_view(d["token"].GetString(),
                                    d["token"].GetStringLength()));
        if (!who) {
          logging::Warn("console login refused",
                        {{"event", "authentication_failed"},
                         {"remote", req.remote_address}});
          respond(
              UiError(401, "unauthenticated", "the credential is not valid"));
          return;
        }
        std::string id;
        absl::StatusOr<ConsoleSessions::Session> s =
            sessions.Create(who->first, who->second, &id);
        if (!s.ok()) {
          respond(server::HttpResponse::FromStatus(s.status()));
          return;
        }
        req.NotePrincipal(who->first);
        logging::Info("console login", {{"principal", who->first},
                                        {"remote", req.remote_address}});
        server::HttpResponse r = UiJson(SessionJson(*s));
        r.headers.emplace_back("Set-Cookie",
                               CookieHeader(id, sessions.options().session_ttl,
                                            sessions.options().secure_cookie));
        respond(std::move(r));
      });
  router.Handle(
      "GET", "/ui/api/session",
      [&sessions](server::HttpRequest& req, server::Responder respond) {
        std::optional<ConsoleSessions::Session> s =
            sessions.Find(RequestCookie(req, kConsoleSessionCookie));
        if (!s) {
          respond(UiError(401, "unauthenticated", "no live console session"));
          return;
        }
        respond(UiJson(SessionJson(*s)));
      });
  router.Handle(
      "POST", "/ui/api/logout",
      [&sessions](server::HttpRequest& req, server::Responder respond) {
        std::string who;
        if (std::optional<server::HttpResponse> refused =
                AuthorizeConsoleSession(sessions, req, ApiRole::kRead, &who)) {
          AddSecurityHeaders(*refused, false);
          respond(*std::move(refused));
          return;
        }
        sessions.Remove(RequestCookie(req, kConsoleSessionCookie));
        server::HttpResponse r = UiJson("{\"status\":\"logged_out\"}");
        r.headers.emplace_back("Set-Cookie",
                               CookieHeader("", absl::ZeroDuration(),
                                            sessions.options().secure_cookie));
        respond(std::move(r));
      });
  router.Handle("GET", "/ui/api/public",
                [&auditor](server::HttpRequest&, server::Responder respond) {
                  respond(UiJson(PublicSummaryJson(auditor, absl::Now(), 30)));
                });
  router.Handle(
      "GET", "/ui/api/overview",
      [&auditor, &sessions](server::HttpRequest& req,
                            server::Responder respond) {
        std::string who;
        if (std::optional<server::HttpResponse> refused =
                AuthorizeConsoleSession(sessions, req, ApiRole::kRead, &who)) {
          AddSecurityHeaders(*refused, false);
          respond(*std::move(refused));
          return;
        }
        req.NotePrincipal(who);
        std::vector<Auditor::LogPollState> states = auditor.PollStates();
        std::string out = "{\"logs\":[";
        for (size_t i = 0; i < auditor.followers().size(); ++i) {
          const auto& f = auditor.followers()[i];
          if (i > 0) out += ',';
          out += "{\"origin\":";
          AppendJsonString(f->origin(), &out);
          absl::StrAppend(
              &out, ",\"size\":", f->checkpoint().size, ",\"polled\":",
              i < states.size() && states[i].polled ? "true" : "false",
              ",\"failing\":",
              i < states.size() && states[i].failing ? "true" : "false",
              ",\"checkpoint\":");
          AppendJsonString(f->checkpoint_note(), &out);
          out += LogLagMembers(*f, auditor.witness());
          out += ",\"verifier_keys\":[";
          for (size_t k = 0; k < f->verifier_keys().size(); ++k) {
            if (k > 0) out += ',';
            AppendJsonString(f->verifier_keys()[k], &out);
          }
          out += "]}";
        }
        out += "],\"witness_key\":";
        AppendJsonString(auditor.witness().verifier_key(), &out);
        out += OpenIncidentsMember(auditor.incidents().List(std::nullopt));
        out += "}";
        respond(UiJson(std::move(out)));
      });
}

}  // namespace clover::audit
