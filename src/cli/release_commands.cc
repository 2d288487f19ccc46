// External key release, the partner's side (docs/vault.md "External key
// release", docs/operations.md):
//   clover keys serve   --config SERVICE.yaml   the key-release service
//   clover keys cutoff  --config SERVICE.yaml --region R --cert C --key K
//   clover keys restore --config SERVICE.yaml --region R --cert C --key K
// cutoff/restore call the running service's admin endpoint with an admin's
// client certificate (one of the config's `admins`).
#include <signal.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "net/http_client.h"
#include "release/release_service.h"

namespace clover::cli {
namespace {

int Serve(const std::string& config_file) {
  auto config = release::LoadServiceConfig(config_file);
  if (!config.ok()) return ReportError(config.status());
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  auto service = release::ReleaseService::Create(*config);
  if (!service.ok()) return ReportError(service.status());
  if (absl::Status s = (*service)->Start(); !s.ok()) return ReportError(s);
  std::cout << "clover keys serve: listening on " << config->listen_host << ":"
            << (*service)->port();
  if ((*service)->public_port() != 0) {
    std::cout << ", log public on " << config->public_host << ":"
              << (*service)->public_port();
  }
  std::cout << "\nclover keys serve: log verifier key "
            << (*service)->verifier_key() << "\n";
  for (const auto& [region, policy] : config->regions) {
    std::cout << "clover keys serve: region " << region << " release key "
              << absl::Base64Escape((*service)->PublicKey(region))
              << ((*service)->IsCutOff(region) ? " (cut off)" : "") << "\n";
  }
  std::cout << std::flush;
  int sig = 0;
  sigwait(&stop, &sig);
  (*service)->Stop();
  std::cout << "clover keys serve: stopped\n";
  return kExitOk;
}

struct AdminFlags {
  std::string config, region, cert, key, ca_file;
};

int Admin(const AdminFlags& f, bool cut) {
  auto config = release::LoadServiceConfig(f.config);
  if (!config.ok()) return ReportError(config.status());
  int port = config->listen_port;
  if (port == 0) {  // an ephemeral port: the running service wrote it
    std::ifstream in(config->data_dir + "/ports");
    if (!(in >> port)) {
      return ReportError(absl::UnavailableError(
          "the service is not running (no " + config->data_dir + "/ports)"));
    }
  }
  const std::string url = absl::StrCat("https://", config->listen_host, ":",
                                       port, "/v1/admin/regions/", f.region,
                                       cut ? "/cutoff" : "/restore");
  net::HttpCall call;
  call.method = "POST";
  call.url = url;
  call.timeout = absl::Seconds(10);
  call.ca_file = f.ca_file;
  call.client_cert_file = f.cert;
  call.client_key_file = f.key;
  auto answer = net::HttpClient().Send(call);
  if (!answer.ok()) return ReportError(answer.status());
  if (answer->status != 200) {
    std::cerr << "clover: the service answered " << answer->status << ": "
              << answer->body << "\n";
    return answer->status == 404 ? kExitBadInput : kExitRuntime;
  }
  std::cout << "region " << f.region << (cut ? " cut off" : " restored")
            << " (logged in the release log)\n";
  return kExitOk;
}

void AddAdmin(CLI::App* keys, const char* name, const char* help, bool cut) {
  auto f = std::make_shared<AdminFlags>();
  CLI::App* sub = keys->add_subcommand(name, help);
  sub->add_option("--config", f->config, "Key-release service configuration")
      ->required();
  sub->add_option("--region", f->region, "Region")->required();
  sub->add_option("--cert", f->cert, "Admin client certificate (PEM)")
      ->required();
  sub->add_option("--key", f->key, "Its private key (PEM)")->required();
  sub->add_option("--ca-file", f->ca_file,
                  "CAs of the service's certificate (PEM)");
  SetAction(sub, [f, cut] { return Admin(*f, cut); });
}

}  // namespace

void RegisterReleaseCommands(CLI::App& app) {
  CLI::App* keys = app.get_subcommand("keys");
  auto config = std::make_shared<std::string>();
  CLI::App* serve = keys->add_subcommand(
      "serve",
      "Run the key-release service (the external partner's): release data "
      "keys to a region's nodes by policy, log every decision in its own "
      "transparency log, cut regions off");
  serve->add_option("--config", *config, "Key-release service configuration")
      ->required();
  SetAction(serve, [config] { return Serve(*config); });
  AddAdmin(keys, "cutoff",
           "Cut a region off: its nodes get no more data keys (reads of "
           "uncached subjects fail closed)",
           true);
  AddAdmin(keys, "restore", "Restore a region that was cut off", false);
}

}  // namespace clover::cli
