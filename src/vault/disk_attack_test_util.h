// Test-only: the attack of issue 20's review, as code. An attacker holding
// the node's disk (every file of the store: RocksDB's WAL and SST files,
// PostgreSQL's heap files and pg_wal) and the region KEK file looks for every
// wrapped key in the raw bytes, unwraps what the KEK opens (data keys stored
// before epochs, and epoch keys), opens with each recovered epoch key every
// epoch-sealed data key, and decrypts the sealed record that follows each key
// in its row. It knows the subject ids it is after (they are the contexts the
// keys are bound to) and tries every record length and a few revisions.
#ifndef CLOVER_VAULT_DISK_ATTACK_TEST_UTIL_H_
#define CLOVER_VAULT_DISK_ATTACK_TEST_UTIL_H_

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "core/big_endian.h"
#include "crypto/aead.h"
#include "crypto/secret_key_file.h"
#include "vault/key_encryption_key.h"
#include "vault/record.h"

namespace clover::vault::testing {

// Every regular file under `dir` (recursively), as bytes.
inline std::vector<std::string> ReadAllFiles(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(
           dir, std::filesystem::directory_options::skip_permission_denied, ec);
       it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec)) continue;
    std::ifstream in(it->path(), std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
  }
  return out;
}

struct AttackResult {
  std::set<std::string> records;     // subjects whose record decrypted
  std::set<std::string> epoch_keys;  // epoch ids whose key was unwrapped
  size_t wrapped_keys_seen = 0;      // KEK outputs found in the bytes
};

// Tries to decrypt the records of `subjects` from `blobs` with the KEK.
inline AttackResult AttackDisk(const std::vector<std::string>& blobs,
                               const crypto::SecretKey& kek_key,
                               const std::vector<std::string>& subjects) {
  AttackResult result;
  auto kek = FileKeyEncryptionKey::FromKey(kek_key);
  const std::string kek_prefix =
      std::string(1, static_cast<char>(kek->id().size())) +
      std::string(kek->id());
  const size_t kek_output = kek_prefix.size() + crypto::kAeadOverhead + 32;
  const UnwrapJustification why{"attacker", "forensics", "x"};
  // Epoch ids named anywhere on disk: the contexts epoch keys are bound to.
  std::set<std::string> epoch_ids;
  for (const std::string& b : blobs) {
    for (size_t p = b.find("epoch:"); p != std::string::npos;
         p = b.find("epoch:", p + 1)) {
      if (p + 22 > b.size()) break;
      const std::string id = b.substr(p, 22);
      if (id.find_first_not_of("0123456789abcdef", 6) == std::string::npos)
        epoch_ids.insert(id);
    }
  }
  // The sealed record after a data key: every length, a few revisions.
  auto try_record = [&](const std::string& b, size_t at,
                        const crypto::SecretKey& data_key,
                        const std::string& subject) {
    const std::string key(reinterpret_cast<const char*>(data_key.data()), 32);
    for (uint64_t revision = 1; revision <= 4; ++revision) {
      std::string aad = "clover/record/v1";
      aad.push_back(static_cast<char>(subject.size()));
      aad += subject;
      AppendBigEndian64(revision, &aad);
      for (size_t len = crypto::kAeadOverhead + 1;
           len <= 2048 && at + len <= b.size(); ++len) {
        std::string plain;
        if (crypto::AeadOpen(key, absl::string_view(b).substr(at, len), aad,
                             &plain)
                .ok() &&
            DecodeRecord(plain).ok()) {
          result.records.insert(subject);
          return;
        }
      }
    }
  };
  std::vector<std::pair<std::string, crypto::SecretKey>> epochs;
  for (const std::string& b : blobs) {
    for (size_t p = b.find(kek_prefix); p != std::string::npos;
         p = b.find(kek_prefix, p + 1)) {
      if (p + kek_output > b.size()) break;
      ++result.wrapped_keys_seen;
      const std::string wrapped = b.substr(p, kek_output);
      for (const std::string& id : epoch_ids) {
        auto k = kek->Unwrap(wrapped, id, why);
        if (k.ok()) {
          result.epoch_keys.insert(id);
          epochs.emplace_back(id, *k);
        }
      }
      // A key wrapped by the KEK alone (stored before epochs).
      for (const std::string& s : subjects) {
        auto k = kek->Unwrap(wrapped, s, why);
        if (k.ok()) try_record(b, p + kek_output, *k, s);
      }
    }
  }
  for (const std::string& b : blobs) {
    for (const auto& [id, key] : epochs) {
      const std::string prefix = std::string(1, 22) + id;
      const size_t sealed_size =
          prefix.size() + kek_output + crypto::kAeadOverhead;
      for (size_t p = b.find(prefix); p != std::string::npos;
           p = b.find(prefix, p + 1)) {
        if (p + sealed_size > b.size()) break;
        const absl::string_view sealed = absl::string_view(b).substr(
            p + prefix.size(), kek_output + crypto::kAeadOverhead);
        for (const std::string& s : subjects) {
          std::string inner;
          if (!crypto::AeadOpen(
                   absl::string_view(reinterpret_cast<const char*>(key.data()),
                                     32),
                   sealed, "clover/dek-epoch/v1" + s, &inner)
                   .ok()) {
            continue;
          }
          auto k = kek->Unwrap(inner, s, why);
          if (k.ok()) try_record(b, p + sealed_size, *k, s);
        }
      }
    }
  }
  return result;
}

}  // namespace clover::vault::testing

#endif  // CLOVER_VAULT_DISK_ATTACK_TEST_UTIL_H_
