// Test-only helpers: a small EU + US deployment built in code, temporary
// directories, and the values the first (v1) storage layout held.
#ifndef CLOVER_VAULT_TEST_UTIL_H_
#define CLOVER_VAULT_TEST_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "core/big_endian.h"
#include "config/deployment.h"
#include "core/test_temp_dir.h"
#include "crypto/aead.h"
#include "crypto/secret_key_file.h"
#include "vault/key_encryption_key.h"
#include "vault/record.h"
#include "vault/token_keys.h"

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

using TempDir = ::clover::test::TempDir;

// What the v1 layout stored for one subject: `meta` (table meta),
// `key_entry` (wrapped_keys), `record` (records) and the token `handle`
// (token_index maps it to the subject).
struct V1Subject {
  std::string meta, key_entry, record, handle;
};

inline std::string V1U64(uint64_t v) {
  std::string out;
  AppendBigEndian64(v, &out);
  return out;
}

// v1 meta: 01 || state (1 live, 2 erased) || revision || micros || len ||
// jurisdiction.
inline std::string V1Meta(uint8_t state, uint64_t revision,
                          const std::string& jurisdiction) {
  std::string m = {1, static_cast<char>(state)};
  m += V1U64(revision) + V1U64(1'790'000'000'000'000);
  m.push_back(static_cast<char>(jurisdiction.size()));
  return m + jurisdiction;
}

// A live v1 subject as the first vault wrote it: a data key wrapped by `kek`,
// `record` sealed under it at `revision` (AAD "clover/record/v1" || len ||
// subject || revision), and a handle of `handle_fill` bytes.
inline V1Subject MakeV1Live(KeyEncryptionKey& kek, const std::string& subject,
                            const Record& record, uint64_t revision,
                            uint8_t handle_fill) {
  V1Subject v;
  const crypto::SecretKey data_key =
      TestKey(static_cast<uint8_t>(handle_fill + 1));
  const std::string key(reinterpret_cast<const char*>(data_key.data()),
                        data_key.size());
  auto wrapped = kek.Wrap(key, subject);
  v.handle = std::string(kHandleSize, static_cast<char>(handle_fill));
  v.key_entry = std::string(1, 1) + v.handle + (wrapped.ok() ? *wrapped : "");
  std::string aad = "clover/record/v1";
  aad.push_back(static_cast<char>(subject.size()));
  aad += subject + V1U64(revision);
  v.record = std::string(1, 1) + V1U64(revision);
  if (!crypto::AeadSeal(key, EncodeRecord(record), aad, &v.record).ok())
    v.record.clear();
  v.meta = V1Meta(1, revision, "eu");
  return v;
}

}  // namespace clover::vault::testing

#endif  // CLOVER_VAULT_TEST_UTIL_H_
