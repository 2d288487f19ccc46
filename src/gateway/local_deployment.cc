#include "gateway/local_deployment.h"

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "crypto/ed25519.h"
#include "crypto/secret_key_file.h"
#include "log/note.h"

namespace clover::gateway {

namespace fs = std::filesystem;

absl::StatusOr<std::vector<LocalNode>> PrepareLocalDeployment(
    Deployment base, const std::string& data_dir, int base_port) {
  fs::path data = fs::absolute(data_dir);
  fs::path keys = data / "keys";
  std::error_code ec;
  fs::create_directories(keys, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", keys.string()));
  }
  int next_port = base_port;
  for (Region& r : base.regions) {
    for (DataCenter& dc : r.dcs) {
      if (base_port > 0)
        dc.endpoint = absl::StrCat("http://127.0.0.1:", next_port++);
    }
    for (const char* kind : {"kek", "pseudonym.key"}) {
      auto key = crypto::GenerateSecretKey();
      if (!key.ok()) return key.status();
      absl::Status s = crypto::WriteSecretKeyFile(
          (keys / absl::StrCat(r.id, ".", kind)).string(), *key);
      if (!s.ok()) return s;
    }
  }
  std::vector<LocalNode> nodes;
  for (const Region& r : base.regions) {
    for (const DataCenter& dc : r.dcs) {
      LocalNode n;
      n.dc = dc.id;
      n.region = r.id;
      n.endpoint = dc.endpoint;
      std::string origin =
          absl::StrCat("log.", r.id, ".clover.example/", dc.id);
      auto key = crypto::Ed25519PrivateKey::Generate();
      if (!key.ok()) return key.status();
      std::string skey = log::FormatSignerKey(origin, 0x01, *key);
      std::string key_file = (keys / absl::StrCat(dc.id, ".note.key")).string();
      if (absl::Status s = crypto::WritePrivateFile(key_file, skey + "\n");
          !s.ok())
        return s;
      auto vkey = log::VerifierKeyFromSignerKey(skey);
      if (!vkey.ok()) return vkey.status();
      n.verifier_key = *vkey;
      n.deployment = base;
      NodeConfig node;
      node.id = dc.id + "-a";
      node.region = r.id;
      node.dc = dc.id;
      node.listen_host = "127.0.0.1";
      node.listen_port =
          std::atoi(dc.endpoint.substr(dc.endpoint.rfind(':') + 1).c_str());
      node.data_dir = (data / dc.id).string();
      n.deployment.node = node;
      n.deployment.log.origin = origin;
      n.deployment.log.key_file = key_file;
      n.deployment.keys.kek_file = (keys / absl::StrCat(r.id, ".kek")).string();
      n.deployment.keys.pseudonym_key_file =
          (keys / absl::StrCat(r.id, ".pseudonym.key")).string();
      nodes.push_back(std::move(n));
    }
  }
  return nodes;
}

}  // namespace clover::gateway
