#include "release/release_service.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/canonical_json.h"
#include "core/config_keys.h"
#include "core/rfc3339.h"
#include "core/status_macros.h"
#include "core/yaml_error.h"
#include "crypto/secret_key_file.h"
#include "log/note.h"
#include "log/rocksdb_storage.h"
#include "release/release_protocol.h"
#include "server/router.h"
#include "spdlog/spdlog.h"

namespace clover::release {
namespace {

namespace fs = std::filesystem;

// Every map of a key-release configuration and the keys it accepts
// (ServiceConfigKeys()): any other is refused.
constexpr absl::string_view kTopKeys[] = {
    "listen", "public_listen", "tls", "data_dir", "log", "admins", "regions"};
constexpr KeySet kTop{"", kTopKeys};
constexpr absl::string_view kListenerKeys[] = {"host", "port"};
constexpr KeySet kListen{"listen", kListenerKeys};
constexpr KeySet kPublicListen{"public_listen", kListenerKeys};
constexpr absl::string_view kTlsKeys[] = {"cert_file", "key_file",
                                          "client_ca_file"};
constexpr KeySet kTls{"tls", kTlsKeys};
constexpr absl::string_view kLogKeys[] = {"origin", "key_file"};
constexpr KeySet kLog{"log", kLogKeys};
constexpr absl::string_view kRegionKeys[] = {"key_file", "nodes", "purposes",
                                             "codes", "require_decision_index"};
constexpr KeySet kRegion{"regions.*", kRegionKeys};
constexpr const KeySet* kServiceKeySets[] = {&kTop, &kListen, &kPublicListen,
                                             &kTls, &kLog,    &kRegion};

// "file:line:col: field 'prefix.k': unknown field" for the first key of the
// map `m` that `keys` does not allow.
absl::Status CheckKeys(const std::string& file, const YAML::Node& m,
                       const std::string& prefix, const KeySet& keys) {
  for (const auto& kv : m) {
    const std::string k = kv.first.as<std::string>();
    if (!keys.Allows(k))
      return YamlError(file, kv.first, prefix + k, "unknown field");
  }
  return absl::OkStatus();
}

std::string Resolve(const std::string& config_path, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (fs::path(config_path).parent_path() / p).lexically_normal().string();
}

absl::StatusOr<std::string> Str(const std::string& file, const YAML::Node& m,
                                const char* name, const std::string& field,
                                bool required) {
  const YAML::Node v = m[name];
  if (!v) {
    if (required) return YamlError(file, m, field + name, "is required");
    return std::string();
  }
  if (!v.IsScalar())
    return YamlError(file, v, field + name, "must be a string");
  return v.as<std::string>();
}

absl::StatusOr<std::vector<std::string>> List(const std::string& file,
                                              const YAML::Node& m,
                                              const char* name,
                                              const std::string& field) {
  std::vector<std::string> out;
  const YAML::Node v = m[name];
  if (!v) return out;
  if (!v.IsSequence()) {
    return YamlError(file, v, field + name, "must be a list of strings");
  }
  for (const YAML::Node& e : v) {
    if (!e.IsScalar()) {
      return YamlError(file, e, field + name, "must be a list of strings");
    }
    out.push_back(e.as<std::string>());
  }
  return out;
}

absl::Status Listener(const std::string& file, const YAML::Node& m,
                      const char* name, std::string* host, int* port) {
  const YAML::Node v = m[name];
  if (!v) return absl::OkStatus();
  if (!v.IsMap()) return YamlError(file, v, name, "must be {host, port}");
  CLOVER_RETURN_IF_ERROR(CheckKeys(file, v, std::string(name) + ".", kListen));
  CLOVER_ASSIGN_OR_RETURN(std::string h,
                          Str(file, v, "host", std::string(name) + ".", false));
  if (!h.empty()) *host = h;
  *port = 0;
  if (v["port"]) {
    int p = -1;
    if (!YAML::convert<int>::decode(v["port"], p) || p < 0 || p > 65535) {
      return YamlError(file, v["port"], std::string(name) + ".port",
                       "must be 0..65535");
    }
    *port = p;
  }
  return absl::OkStatus();
}

server::HttpResponse JsonError(int status, absl::string_view code,
                               absl::string_view message,
                               std::optional<uint64_t> log_index = {}) {
  std::string body = "{\"error\":{\"code\":";
  AppendJsonString(code, &body);
  body.append(",\"message\":");
  AppendJsonString(message, &body);
  body.push_back('}');
  if (log_index.has_value())
    absl::StrAppend(&body, ",\"log_index\":", *log_index);
  body.push_back('}');
  server::HttpResponse r = server::HttpResponse::Json(status, std::move(body));
  server::EnsureRetryAfter(r);  // a 503: the release log cannot take entries
  return r;
}

std::string Now() { return FormatRfc3339Millis(absl::Now()); }

}  // namespace

absl::StatusOr<ServiceConfig> LoadServiceConfig(const std::string& path) {
  CLOVER_ASSIGN_OR_RETURN(YAML::Node root,
                          LoadYamlFile(path, "key-release configuration"));
  if (!root.IsMap()) return YamlError(path, root, "", "must be a mapping");
  CLOVER_RETURN_IF_ERROR(CheckKeys(path, root, "", kTop));
  ServiceConfig c;
  CLOVER_RETURN_IF_ERROR(
      Listener(path, root, "listen", &c.listen_host, &c.listen_port));
  CLOVER_RETURN_IF_ERROR(
      Listener(path, root, "public_listen", &c.public_host, &c.public_port));
  if (!root["public_listen"]) c.public_port = -1;
  const YAML::Node tls = root["tls"];
  if (!tls || !tls.IsMap()) {
    return YamlError(path, root, "tls",
                     "is required: {cert_file, key_file, client_ca_file}");
  }
  CLOVER_RETURN_IF_ERROR(CheckKeys(path, tls, "tls.", kTls));
  CLOVER_ASSIGN_OR_RETURN(c.cert_file,
                          Str(path, tls, "cert_file", "tls.", true));
  CLOVER_ASSIGN_OR_RETURN(c.key_file, Str(path, tls, "key_file", "tls.", true));
  CLOVER_ASSIGN_OR_RETURN(c.client_ca_file,
                          Str(path, tls, "client_ca_file", "tls.", true));
  c.cert_file = Resolve(path, c.cert_file);
  c.key_file = Resolve(path, c.key_file);
  c.client_ca_file = Resolve(path, c.client_ca_file);
  CLOVER_ASSIGN_OR_RETURN(c.data_dir, Str(path, root, "data_dir", "", true));
  c.data_dir = Resolve(path, c.data_dir);
  const YAML::Node log = root["log"];
  if (!log || !log.IsMap()) {
    return YamlError(path, root, "log", "is required: {origin, key_file}");
  }
  CLOVER_RETURN_IF_ERROR(CheckKeys(path, log, "log.", kLog));
  CLOVER_ASSIGN_OR_RETURN(c.log_origin, Str(path, log, "origin", "log.", true));
  CLOVER_ASSIGN_OR_RETURN(c.log_key_file,
                          Str(path, log, "key_file", "log.", true));
  c.log_key_file = Resolve(path, c.log_key_file);
  CLOVER_ASSIGN_OR_RETURN(c.admins, List(path, root, "admins", ""));
  const YAML::Node regions = root["regions"];
  if (!regions || !regions.IsMap() || regions.size() == 0) {
    return YamlError(path, root, "regions", "is required: a non-empty mapping");
  }
  for (const auto& kv : regions) {
    const std::string id = kv.first.as<std::string>();
    const std::string f = absl::StrCat("regions.", id, ".");
    const YAML::Node& r = kv.second;
    if (!r.IsMap()) return YamlError(path, r, f, "must be a mapping");
    CLOVER_RETURN_IF_ERROR(CheckKeys(path, r, f, kRegion));
    RegionPolicy p;
    CLOVER_ASSIGN_OR_RETURN(p.key_file, Str(path, r, "key_file", f, true));
    p.key_file = Resolve(path, p.key_file);
    CLOVER_ASSIGN_OR_RETURN(p.nodes, List(path, r, "nodes", f));
    CLOVER_ASSIGN_OR_RETURN(auto purposes, List(path, r, "purposes", f));
    CLOVER_ASSIGN_OR_RETURN(auto codes, List(path, r, "codes", f));
    p.purposes.insert(purposes.begin(), purposes.end());
    p.codes.insert(codes.begin(), codes.end());
    if (r["require_decision_index"]) {
      bool b = false;
      if (!YAML::convert<bool>::decode(r["require_decision_index"], b)) {
        return YamlError(path, r["require_decision_index"],
                         f + "require_decision_index", "must be a boolean");
      }
      p.require_decision_index = b;
    }
    c.regions.emplace(id, std::move(p));
  }
  return c;
}

std::vector<std::string> ServiceConfigKeys() {
  return ExpandKeySets(kServiceKeySets);
}

absl::StatusOr<std::unique_ptr<ReleaseService>> ReleaseService::Create(
    ServiceConfig config) {
  std::unique_ptr<ReleaseService> s(new ReleaseService(std::move(config)));
  const ServiceConfig& c = s->config_;
  std::error_code ec;
  fs::create_directories(c.data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create data_dir '", c.data_dir, "': ", ec.message()));
  }
  fs::permissions(c.data_dir, fs::perms::owner_all, fs::perm_options::replace,
                  ec);
  for (const auto& [id, p] : c.regions) {
    auto secret = crypto::ReadSecretKeyFile(p.key_file);
    if (!secret.ok()) {
      return absl::Status(
          secret.status().code(),
          absl::StrCat("region ", id, ": ", secret.status().message()));
    }
    CLOVER_ASSIGN_OR_RETURN(auto key, ReleaseKey::FromSecret(*secret));
    s->keys_.emplace(id, std::move(key));
  }
  std::ifstream in(c.log_key_file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string skey = ss.str();
  while (!skey.empty() && (skey.back() == '\n' || skey.back() == '\r'))
    skey.pop_back();
  if (!in || skey.empty()) {
    return absl::NotFoundError(
        absl::StrCat("cannot read log.key_file '", c.log_key_file, "'"));
  }
  auto signer = log::ParseSignerKey(skey);
  if (!signer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(c.log_key_file, ": ", signer.status().message()));
  }
  CLOVER_ASSIGN_OR_RETURN(s->verifier_key_,
                          log::VerifierKeyFromSignerKey(skey));
  std::fill(skey.begin(), skey.end(), '\0');
  CLOVER_ASSIGN_OR_RETURN(auto storage,
                          log::OpenRocksDbStorage(c.data_dir + "/log"));
  log::SequencerOptions o;
  o.origin = c.log_origin;
  CLOVER_ASSIGN_OR_RETURN(
      s->log_, log::Sequencer::Open(std::move(storage), *std::move(signer), o));
  s->log_http_ = std::make_unique<log::LogHttpHandler>(*s->log_);
  {
    std::ifstream cut(c.data_dir + "/cutoff");
    std::string line;
    absl::MutexLock lock(&s->mu_);
    while (std::getline(cut, line)) {
      if (!line.empty()) s->cut_off_.insert(line);
    }
  }

  ReleaseService* self = s.get();
  server::Router router;
  router.Handle("POST", "/v1/release",
                [self](server::HttpRequest& req, server::Responder r) {
                  self->Release(req, std::move(r));
                });
  router.Handle("GET", "/v1/regions/{region}",
                [self](server::HttpRequest& req, server::Responder r) {
                  self->RegionStatus(req, std::move(r));
                });
  router.Handle("POST", "/v1/admin/regions/{region}/cutoff",
                [self](server::HttpRequest& req, server::Responder r) {
                  self->Admin(req, std::move(r), true);
                });
  router.Handle("POST", "/v1/admin/regions/{region}/restore",
                [self](server::HttpRequest& req, server::Responder r) {
                  self->Admin(req, std::move(r), false);
                });
  router.Handle("GET", "/healthz",
                [](server::HttpRequest&, server::Responder r) {
                  r(server::HttpResponse::Json(200, "{\"status\":\"ok\"}"));
                });
  if (!router.status().ok()) return router.status();
  server::Handler routes = router.AsHandler();
  const log::LogHttpHandler* lh = s->log_http_.get();
  s->handler_ = [routes, lh](server::HttpRequest& req, server::Responder r) {
    if (lh->Owns(req.path))
      return r(lh->Handle(req.method, req.path, req.query));
    routes(req, std::move(r));
  };
  s->public_handler_ = [lh](server::HttpRequest& req, server::Responder r) {
    if (req.path == "/healthz") {
      return r(server::HttpResponse::Json(200, "{\"status\":\"ok\"}"));
    }
    r(lh->Handle(req.method, req.path, req.query));
  };
  return s;
}

ReleaseService::~ReleaseService() { Stop(); }

absl::Status ReleaseService::Start() {
  server::HttpServerOptions o;
  o.host = config_.listen_host;
  o.port = config_.listen_port;
  o.threads = 2;
  o.max_body_bytes = kMaxRequestBytes;
  o.tls = server::TlsServerOptions{config_.cert_file, config_.key_file,
                                   config_.client_ca_file};
  CLOVER_ASSIGN_OR_RETURN(server_, server::HttpServer::Start(o, handler_));
  if (config_.public_port >= 0) {
    server::HttpServerOptions p = o;
    p.host = config_.public_host;
    p.port = config_.public_port;
    p.threads = 1;
    p.tls->client_ca_file.clear();
    CLOVER_ASSIGN_OR_RETURN(public_server_,
                            server::HttpServer::Start(p, public_handler_));
  }
  const std::string ports = config_.data_dir + "/ports";
  {
    std::ofstream out(ports + ".tmp", std::ios::trunc);
    out << port() << " " << public_port() << "\n";
    if (!out.flush()) return absl::InternalError("cannot write " + ports);
  }
  std::error_code ec;
  fs::rename(ports + ".tmp", ports, ec);
  if (ec) return absl::InternalError("cannot write " + ports);
  return absl::OkStatus();
}

void ReleaseService::Stop() {
  if (server_) server_->Stop();
  if (public_server_) public_server_->Stop();
}

int ReleaseService::port() const { return server_ ? server_->port() : 0; }
int ReleaseService::public_port() const {
  return public_server_ ? public_server_->port() : 0;
}

bool ReleaseService::IsCutOff(const std::string& region) const {
  absl::ReaderMutexLock lock(&mu_);
  return cut_off_.contains(region);
}

std::string ReleaseService::PublicKey(const std::string& region) const {
  auto it = keys_.find(region);
  return it == keys_.end() ? std::string() : it->second->public_key();
}

absl::Status ReleaseService::PersistCutOffs() const {
  const std::string path = config_.data_dir + "/cutoff";
  {
    std::ofstream out(path + ".tmp", std::ios::trunc);
    for (const std::string& r : cut_off_) out << r << "\n";
    if (!out.flush()) return absl::InternalError("cannot write " + path);
  }
  std::error_code ec;
  fs::rename(path + ".tmp", path, ec);
  if (ec) return absl::InternalError("cannot write " + path);
  return absl::OkStatus();
}

absl::Status ReleaseService::SetCutOff(const std::string& region, bool cut,
                                       const std::string& by) {
  if (!config_.regions.contains(region)) {
    return absl::NotFoundError(absl::StrCat("unknown region '", region, "'"));
  }
  // Logged first: the log says a cut-off began no later than it took effect.
  std::string entry = "{\"by\":";
  AppendJsonString(by, &entry);
  entry.append(",\"region\":");
  AppendJsonString(region, &entry);
  entry.append(",\"time\":");
  AppendJsonString(Now(), &entry);
  entry.append(cut ? ",\"type\":\"cutoff\"}" : ",\"type\":\"restore\"}");
  CLOVER_ASSIGN_OR_RETURN(uint64_t index, log_->Append(entry).get());
  absl::MutexLock lock(&mu_);
  if (cut) {
    cut_off_.insert(region);
  } else {
    cut_off_.erase(region);
  }
  spdlog::warn("key release: region {} {} by {} (log index {})", region,
               cut ? "cut off" : "restored", by, index);
  return PersistCutOffs();
}

void ReleaseService::RegionStatus(server::HttpRequest& req,
                                  server::Responder respond) {
  const std::string region = req.path_params["region"];
  auto it = config_.regions.find(region);
  if (it == config_.regions.end()) {
    return respond(JsonError(404, "unknown_region", "no such region"));
  }
  std::string body =
      absl::StrCat("{\"cut_off\":", IsCutOff(region) ? "true" : "false",
                   ",\"public_key\":\"", absl::Base64Escape(PublicKey(region)),
                   "\",\"region\":");
  AppendJsonString(region, &body);
  body.push_back('}');
  respond(server::HttpResponse::Json(200, std::move(body)));
}

void ReleaseService::Admin(server::HttpRequest& req, server::Responder respond,
                           bool cut) {
  const std::string& who = req.client_cert_subject;
  if (std::find(config_.admins.begin(), config_.admins.end(), who) ==
      config_.admins.end()) {
    return respond(JsonError(403, "not_admin",
                             "this client certificate is not an admin's"));
  }
  const std::string region = req.path_params["region"];
  absl::Status s = SetCutOff(region, cut, who);
  if (absl::IsNotFound(s)) {
    return respond(JsonError(404, "unknown_region", "no such region"));
  }
  if (!s.ok()) return respond(server::HttpResponse::FromStatus(s));
  std::string body =
      absl::StrCat("{\"cut_off\":", cut ? "true" : "false", ",\"region\":");
  AppendJsonString(region, &body);
  body.push_back('}');
  respond(server::HttpResponse::Json(200, std::move(body)));
}

void ReleaseService::Release(server::HttpRequest& req,
                             server::Responder respond) {
  auto parsed = ParseReleaseRequest(req.body);
  if (!parsed.ok()) {
    return respond(
        JsonError(400, "invalid_argument", parsed.status().message()));
  }
  ReleaseRequest& r = *parsed;
  auto policy = config_.regions.find(r.region);
  if (policy == config_.regions.end()) {
    return respond(JsonError(404, "unknown_region", "no such region"));
  }
  const RegionPolicy& p = policy->second;
  const Justification& j = r.justification;
  const std::string& node = req.client_cert_subject;
  // The decision, by the partner's own rules, in this order.
  std::string refusal, message;
  if (std::find(p.nodes.begin(), p.nodes.end(), node) == p.nodes.end()) {
    refusal = "node_not_allowed";
    message = "this client certificate is not a node of the region";
  } else if (IsCutOff(r.region)) {
    refusal = "region_cut_off";
    message = "the partner has cut this region off";
  } else if (!p.purposes.contains(j.purpose)) {
    refusal = "justification_refused";
    message = "the purpose is not one the partner releases keys for";
  } else if (!p.codes.contains(j.code)) {
    refusal = "justification_refused";
    message = "the justification code is not one the partner accepts";
  } else if (p.require_decision_index && !j.decision_index.has_value() &&
             j.code != "maintenance") {
    refusal = "justification_refused";
    message = "the request names no decision log index";
  }
  std::string inner;
  if (refusal.empty()) {
    auto opened = keys_.at(r.region)->Open(r.wrapped);
    if (!opened.ok()) {
      return respond(
          JsonError(400, "wrapped_invalid", opened.status().message()));
    }
    inner = *std::move(opened);
  }
  std::string entry = "{\"code\":";
  AppendJsonString(j.code, &entry);
  if (j.decision_index.has_value()) {
    absl::StrAppend(&entry, ",\"decision_index\":", *j.decision_index);
  }
  if (!j.log.empty()) {
    entry.append(",\"decision_log\":");
    AppendJsonString(j.log, &entry);
  }
  if (!j.node.empty()) {
    entry.append(",\"decision_node\":");
    AppendJsonString(j.node, &entry);
  }
  entry.append(",\"key_id\":");
  // The id a (possibly refused, so unverified) key claims: printable ASCII
  // as sent, anything else in hex, so every entry stays valid UTF-8.
  const size_t n = r.wrapped.empty() ? 0 : static_cast<uint8_t>(r.wrapped[0]);
  const absl::string_view claimed =
      r.wrapped.size() > n ? absl::string_view(r.wrapped).substr(1, n) : "";
  const bool printable =
      std::all_of(claimed.begin(), claimed.end(),
                  [](char c) { return c >= 0x21 && c <= 0x7e; });
  AppendJsonString(printable
                       ? std::string(claimed)
                       : absl::StrCat("hex:", absl::BytesToHexString(claimed)),
                   &entry);
  entry.append(",\"node\":");
  AppendJsonString(node, &entry);
  entry.append(",\"outcome\":");
  AppendJsonString(refusal.empty() ? "released" : "refused", &entry);
  entry.append(",\"principal\":");
  AppendJsonString(j.principal, &entry);
  entry.append(",\"purpose\":");
  AppendJsonString(j.purpose, &entry);
  if (!refusal.empty()) {
    entry.append(",\"reason\":");
    AppendJsonString(refusal, &entry);
  }
  entry.append(",\"region\":");
  AppendJsonString(r.region, &entry);
  entry.append(",\"subject\":");
  AppendJsonString(j.subject, &entry);
  entry.append(",\"time\":");
  AppendJsonString(Now(), &entry);
  entry.append(",\"type\":\"release\"}");
  // Answered only once the entry is durable: no key leaves unlogged, and no
  // refusal is claimed that the log does not show.
  log_->Append(std::move(entry), [respond, refusal, message,
                                  inner = std::move(inner)](
                                     absl::StatusOr<uint64_t> index) mutable {
    if (!index.ok()) {
      spdlog::error("key release: log append failed: {}",
                    index.status().ToString());
      return respond(JsonError(503, "log_unavailable",
                               "the release log cannot take "
                               "the entry; nothing released"));
    }
    if (!refusal.empty()) {
      return respond(JsonError(403, refusal, message, *index));
    }
    std::string body = absl::StrCat("{\"key\":\"", absl::Base64Escape(inner),
                                    "\",\"log_index\":", *index, "}");
    std::fill(inner.begin(), inner.end(), '\0');
    respond(server::HttpResponse::Json(200, std::move(body)));
  });
}

}  // namespace clover::release
