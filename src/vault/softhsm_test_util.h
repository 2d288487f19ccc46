// Test-only: a SoftHSM2 token of the test's own, in a temporary directory.
//
// Writes a softhsm2.conf whose token directory is under `dir`, points
// SOFTHSM2_CONF at it (so child processes, e.g. `clover serve`, use it too),
// initialises a token with `softhsm2-util --init-token` and writes its user
// PIN to a file. SoftHSM reads SOFTHSM2_CONF when the module is initialised,
// which Pkcs11Token does when the first token of the process opens: every
// Pkcs11Token of an earlier test must be closed before a new SoftHsm.
#ifndef CLOVER_VAULT_SOFTHSM_TEST_UTIL_H_
#define CLOVER_VAULT_SOFTHSM_TEST_UTIL_H_

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"

namespace clover::vault::testing {

inline constexpr char kSoftHsmUserPin[] = "4242-user-pin";
inline constexpr char kSoftHsmSoPin[] = "4242-so-pin";

struct SoftHsm {
  std::string module;    // libsofthsm2.so
  std::string token;     // token label
  std::string pin_file;  // holds kSoftHsmUserPin
  std::string conf;      // the softhsm2.conf SOFTHSM2_CONF names
};

// The SoftHSM2 module, or empty if the softhsm2 package is not installed.
inline std::string SoftHsmModule() {
  for (const char* p : {"/usr/lib/softhsm/libsofthsm2.so",
                        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                        "/usr/local/lib/softhsm/libsofthsm2.so"}) {
    if (std::filesystem::exists(p)) return p;
  }
  return "";
}

inline std::string SoftHsmUtil() {
  for (const char* p :
       {"/usr/bin/softhsm2-util", "/usr/local/bin/softhsm2-util"}) {
    if (std::filesystem::exists(p)) return p;
  }
  return "";
}

// Why SoftHSM2 cannot be used here (for GTEST_SKIP), or empty.
inline std::string SoftHsmMissing() {
  if (SoftHsmModule().empty())
    return "softhsm2 is not installed (no libsofthsm2.so; scripts/bootstrap.sh "
           "installs it)";
  if (SoftHsmUtil().empty())
    return "softhsm2 is not installed (no softhsm2-util; scripts/bootstrap.sh "
           "installs it)";
  return "";
}

// A fresh token labelled `token` under `dir`; nullopt if softhsm2-util
// failed (the test then fails: SoftHsmMissing() was checked first).
inline std::optional<SoftHsm> MakeSoftHsm(
    const std::string& dir, const std::string& token = "clover-test") {
  namespace fs = std::filesystem;
  SoftHsm h;
  h.module = SoftHsmModule();
  h.token = token;
  const fs::path tokens = fs::path(dir) / "softhsm-tokens";
  fs::create_directories(tokens);
  h.conf = (fs::path(dir) / "softhsm2.conf").string();
  std::ofstream(h.conf) << "directories.tokendir = " << tokens.string()
                        << "\nobjectstore.backend = file\nlog.level = ERROR\n"
                        << "slots.removable = false\n";
  setenv("SOFTHSM2_CONF", h.conf.c_str(), 1);
  const std::string cmd = absl::StrCat(
      SoftHsmUtil(), " --init-token --free --label '", token, "' --so-pin ",
      kSoftHsmSoPin, " --pin ", kSoftHsmUserPin, " >/dev/null 2>&1");
  if (std::system(cmd.c_str()) != 0) return std::nullopt;
  h.pin_file = (fs::path(dir) / "softhsm-user.pin").string();
  std::ofstream(h.pin_file) << kSoftHsmUserPin << "\n";
  chmod(h.pin_file.c_str(), 0600);
  return h;
}

}  // namespace clover::vault::testing

#endif  // CLOVER_VAULT_SOFTHSM_TEST_UTIL_H_
