// The symmetric secret key file: one line `CLOVER-SECRET-V1+` base64(32 bytes)
// "\n", mode 0600. The vault reads its key-encryption key and pseudonym root
// key from such files.
#ifndef CLOVER_CRYPTO_SECRET_KEY_FILE_H_
#define CLOVER_CRYPTO_SECRET_KEY_FILE_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover::crypto {

inline constexpr size_t kSecretKeySize = 32;
inline constexpr absl::string_view kSecretKeyPrefix = "CLOVER-SECRET-V1+";
using SecretKey = std::array<uint8_t, kSecretKeySize>;

// A fresh key from the OpenSSL CSPRNG. Errors: Internal if the CSPRNG fails.
[[nodiscard]] absl::StatusOr<SecretKey> GenerateSecretKey();

// Parses the file contents (a trailing newline is optional).
// Errors: InvalidArgument naming what is wrong, never echoing key material.
[[nodiscard]] absl::StatusOr<SecretKey> ParseSecretKey(
    absl::string_view contents);
[[nodiscard]] std::string FormatSecretKey(const SecretKey& key);

// Reads `path`. Errors: NotFound if missing, InvalidArgument if malformed
// (message names the file), FailedPrecondition if the file is readable by group
// or others.
[[nodiscard]] absl::StatusOr<SecretKey> ReadSecretKeyFile(
    const std::string& path);

// Creates `path` with mode 0600 and writes the key, synced to disk. Refuses to
// overwrite: AlreadyExists if the file exists; Internal on I/O errors.
[[nodiscard]] absl::Status WriteSecretKeyFile(const std::string& path,
                                              const SecretKey& key);

// Shared by key-file writers: creates `path` exclusively with mode 0600, writes
// `contents` and fsyncs. Errors: AlreadyExists, Internal (the file it created
// is removed again: no partial file is left to block a retry).
[[nodiscard]] absl::Status WritePrivateFile(const std::string& path,
                                            absl::string_view contents);

}  // namespace clover::crypto

#endif  // CLOVER_CRYPTO_SECRET_KEY_FILE_H_
