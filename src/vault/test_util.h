// Test-only helpers: a small EU + US deployment built in code, and temporary
// directories.
#ifndef CLOVER_VAULT_TEST_UTIL_H_
#define CLOVER_VAULT_TEST_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "core/config.h"
#include "crypto/secret_key_file.h"

namespace clover::vault::testing {

inline FieldSpec Field(std::string name, std::string category,
                       FieldFormat format, PseudonymMethod method,
                       bool restricted = false) {
  FieldSpec f;
  f.name = std::move(name);
  f.category = std::move(category);
  f.format = format;
  f.method = method;
  f.restricted = restricted;
  return f;
}

// Mirrors examples/: EU region (eu, uk, ch) with three DCs, US region (us); cn
// has no home.
inline Deployment TestDeployment() {
  Deployment d;
  d.jurisdictions = {
      {"eu",
       "European Union and EEA",
       {"IE", "DE", "FR", "NO", "IS", "LI", "AT"}},
      {"us", "United States", {"US", "PR"}},
      {"uk", "United Kingdom", {"GB"}},
      {"ch", "Switzerland", {"CH"}},
      {"cn", "China", {"CN"}},
  };
  d.regions = {
      {"eu",
       {"eu", "uk", "ch"},
       {{"ie-dub-1", "IE", "http://127.0.0.1:8441"},
        {"ie-dub-2", "IE", "http://127.0.0.1:8442"},
        {"no-ham-1", "NO", "http://127.0.0.1:8443"}}},
      {"us", {"us"}, {{"us-tx-1", "US", "http://127.0.0.1:8451"}}},
  };
  using F = FieldFormat;
  using M = PseudonymMethod;
  d.schema.fields = {
      Field("email", "contact", F::kEmail, M::kHmac, true),
      Field("phone", "contact", F::kE164, M::kFf1, true),
      Field("name", "identity", F::kText, M::kSiv),
      Field("birthdate", "identity", F::kDate, M::kGeneralize),
      Field("ip_address", "network", F::kIp, M::kGeneralize, true),
      Field("device_id", "device", F::kText, M::kHmac),
      Field("watch_history", "behavior", F::kTextList, M::kHmac),
      Field("uploaded_videos", "content", F::kTextList, M::kSiv),
      Field("payment_country", "financial", F::kCountry, M::kGeneralize, true),
      Field("age", "identity", F::kInteger, M::kGeneralize),
      Field("account_number", "financial", F::kDigits, M::kFf1, true),
      Field("notes", "content", F::kText, M::kRedact),
  };
  return d;
}

inline crypto::SecretKey TestKey(uint8_t fill) {
  crypto::SecretKey k;
  k.fill(fill);
  return k;
}

// A fresh directory under $TEST_TMPDIR or /tmp, removed on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TEST_TMPDIR");
    std::string templ =
        std::string(base != nullptr ? base : "/tmp") + "/clover-vault-XXXXXX";
    char* made = mkdtemp(templ.data());
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace clover::vault::testing

#endif  // CLOVER_VAULT_TEST_UTIL_H_
