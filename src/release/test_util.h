// Test-only: a key-release service's files in a temporary directory — a
// throwaway CA (openssl command line), the service's certificate for
// 127.0.0.1, client certificates for the node ("CN=eu-node-1"), an intruder
// the CA signed but the service does not list ("CN=intruder"), the partner's
// admin ("CN=partner-admin"), the region's release key, the log's signer key,
// and a service.yaml. Used by the release tests, the e2e test and the bench.
#ifndef CLOVER_RELEASE_TEST_UTIL_H_
#define CLOVER_RELEASE_TEST_UTIL_H_

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crypto/ed25519.h"
#include "crypto/secret_key_file.h"
#include "log/note.h"

namespace clover::release::testing {

inline constexpr char kOrigin[] = "release.partner.example/eu";

// Writes everything into `dir` (which must exist). The service listens on
// ephemeral ports (written to dir/data/ports once started) unless `port` is
// set. Errors: Internal if openssl or a write fails.
inline absl::Status WriteServiceFiles(const std::string& dir, int port = 0) {
  std::ofstream(dir + "/server.ext")
      << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
         "extendedKeyUsage=serverAuth\n";
  std::ofstream(dir + "/client.ext") << "extendedKeyUsage=clientAuth\n";
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes ";
  std::string script = absl::StrCat(
      "set -e; cd ", dir, "; openssl req -x509", ec,
      "-keyout ca.key -out ca.crt -subj '/CN=Partner Test CA' -days 1;",
      "openssl req", ec, "-keyout server.key -out server.csr -subj '/CN=kms';",
      "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
      "-CAcreateserial -days 1 -extfile server.ext -out server.crt;");
  for (const char* who : {"node", "intruder", "admin"}) {
    const std::string cn = std::string(who) == "node"    ? "eu-node-1"
                           : std::string(who) == "admin" ? "partner-admin"
                                                         : "intruder";
    absl::StrAppend(&script, "openssl req", ec, "-keyout ", who, ".key -out ",
                    who, ".csr -subj '/CN=", cn, "';", "openssl x509 -req -in ",
                    who,
                    ".csr -CA ca.crt -CAkey ca.key "
                    "-CAcreateserial -days 1 -extfile client.ext -out ",
                    who, ".crt;");
  }
  // A self-signed client certificate: not from the partner's CA.
  absl::StrAppend(&script, "openssl req -x509", ec,
                  "-keyout stranger.key -out stranger.crt -subj "
                  "'/CN=eu-node-1' -days 1");
  const std::string cmd =
      "sh -c \"" + script + "\" >" + dir + "/openssl.log 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    return absl::InternalError("openssl failed, see " + dir + "/openssl.log");
  }
  auto release_key = crypto::GenerateSecretKey();
  if (!release_key.ok()) return release_key.status();
  if (absl::Status s =
          crypto::WriteSecretKeyFile(dir + "/eu.release.key", *release_key);
      !s.ok())
    return s;
  auto note_key = crypto::Ed25519PrivateKey::Generate();
  if (!note_key.ok()) return note_key.status();
  if (absl::Status s = crypto::WritePrivateFile(
          dir + "/log.key",
          log::FormatSignerKey(kOrigin, log::kNoteTypeEd25519, *note_key) +
              "\n");
      !s.ok())
    return s;
  std::ofstream(dir + "/service.yaml")
      << "listen: {host: 127.0.0.1, port: " << port << "}\n"
      << "public_listen: {host: 127.0.0.1, port: 0}\n"
      << "tls: {cert_file: server.crt, key_file: server.key, "
         "client_ca_file: ca.crt}\n"
      << "data_dir: data\n"
      << "log: {origin: " << kOrigin << ", key_file: log.key}\n"
      << "admins: [CN=partner-admin]\n"
      << "regions:\n"
      << "  eu:\n"
      << "    key_file: eu.release.key\n"
      << "    nodes: [CN=eu-node-1]\n"
      << "    purposes: [customer_support, write, epoch-key, kek-rotation]\n"
      << "    codes: [read, maintenance]\n";
  return absl::OkStatus();
}

}  // namespace clover::release::testing

#endif  // CLOVER_RELEASE_TEST_UTIL_H_
