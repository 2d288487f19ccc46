// The partner's key-release service (`clover keys serve --config FILE`,
// docs/vault.md "External key release", docs/api.md "Key-release service").
// It holds each region's release key, decides every release request by its
// own policy, records every decision in its own transparency log (a C2SP
// tlog, log/sequencer.h, with its own signed checkpoint), and can cut a region
// off.
//
// Two listeners, both TLS:
//   listen        mutual TLS: nodes (POST /v1/release, GET /v1/regions/{r})
//                 and admins (POST /v1/admin/regions/{r}/cutoff|restore);
//                 the log too.
//   public_listen (optional) no client certificate: the log's checkpoint,
//                 tiles and proofs, for anyone (the operator, the auditor).
// The cut-off set survives restarts (<data_dir>/cutoff). Once started, the
// bound ports are written to <data_dir>/ports ("port public_port\n").
//
// Thread-safety: Start/Stop from one thread; handlers run concurrently.
#ifndef CLOVER_RELEASE_RELEASE_SERVICE_H_
#define CLOVER_RELEASE_RELEASE_SERVICE_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "log/http_handlers.h"
#include "log/sequencer.h"
#include "release/release_key.h"
#include "server/http.h"
#include "server/http_server.h"

namespace clover::release {

struct RegionPolicy {
  std::string key_file;  // CLOVER-SECRET-V1: the X25519 release key
  // mTLS subjects (RFC 2253, as server::HttpRequest::client_cert_subject)
  // of the nodes that may ask for this region's releases.
  std::vector<std::string> nodes;
  std::set<std::string> purposes;  // allowed justification purposes
  std::set<std::string> codes;     // allowed justification codes
  // Requests without a decision log index are refused (the vault's own
  // maintenance, code "maintenance", is exempt).
  bool require_decision_index = false;
};

struct ServiceConfig {
  std::string listen_host = "127.0.0.1";
  int listen_port = 0;
  std::string public_host = "127.0.0.1";
  int public_port = -1;  // -1: no public listener
  std::string cert_file, key_file, client_ca_file;
  std::string data_dir;
  std::string log_origin, log_key_file;  // note signer key (keys generate)
  std::vector<std::string> admins;       // mTLS subjects allowed to cut off
  std::map<std::string, RegionPolicy> regions;
};

// Reads the YAML configuration (paths relative to its directory). Errors:
// NotFound for a missing file; InvalidArgument "file:line:col: field ..."
// for a bad one.
[[nodiscard]] absl::StatusOr<ServiceConfig> LoadServiceConfig(
    const std::string& path);

// Every key a key-release configuration may hold, as dotted paths
// ("tls.client_ca_file", "regions.*.nodes"): the loader refuses any other.
std::vector<std::string> ServiceConfigKeys();

class ReleaseService {
 public:
  // Opens the region keys, the log and the cut-off set. Errors: those of the
  // key files (never echoing key bytes), the log storage and the data dir.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ReleaseService>> Create(
      ServiceConfig config);
  ~ReleaseService();

  // Errors: InvalidArgument for bad TLS files; Unavailable if a listener
  // cannot bind.
  [[nodiscard]] absl::Status Start();
  void Stop();
  int port() const;
  int public_port() const;

  // Cuts `region` off (cut = true) or restores it, persisted and logged with
  // `by`. Errors: NotFound for an unknown region; storage/log errors.
  [[nodiscard]] absl::Status SetCutOff(const std::string& region, bool cut,
                                       const std::string& by);
  bool IsCutOff(const std::string& region) const;
  // The region's release public key (32 raw bytes), or empty.
  std::string PublicKey(const std::string& region) const;

  const log::Sequencer& log() const { return *log_; }
  // The verifier key of the log's checkpoints.
  const std::string& verifier_key() const { return verifier_key_; }
  server::Handler handler() const { return handler_; }

 private:
  explicit ReleaseService(ServiceConfig config) : config_(std::move(config)) {}
  void Release(server::HttpRequest& req, server::Responder respond);
  void RegionStatus(server::HttpRequest& req, server::Responder respond);
  void Admin(server::HttpRequest& req, server::Responder respond, bool cut);
  absl::Status PersistCutOffs() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const ServiceConfig config_;
  std::map<std::string, std::unique_ptr<ReleaseKey>> keys_;
  std::unique_ptr<log::Sequencer> log_;
  std::unique_ptr<log::LogHttpHandler> log_http_;
  std::string verifier_key_;
  server::Handler handler_;
  server::Handler public_handler_;
  std::unique_ptr<server::HttpServer> server_;
  std::unique_ptr<server::HttpServer> public_server_;
  mutable absl::Mutex mu_;
  std::set<std::string> cut_off_ ABSL_GUARDED_BY(mu_);
};

}  // namespace clover::release

#endif  // CLOVER_RELEASE_RELEASE_SERVICE_H_
