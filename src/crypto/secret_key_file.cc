#include "crypto/secret_key_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace clover::crypto {

absl::StatusOr<SecretKey> GenerateSecretKey() {
  SecretKey key;
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    return absl::InternalError("OpenSSL RAND_bytes failed");
  }
  return key;
}

absl::StatusOr<SecretKey> ParseSecretKey(absl::string_view contents) {
  if (!contents.empty() && contents.back() == '\n') contents.remove_suffix(1);
  if (contents.substr(0, kSecretKeyPrefix.size()) != kSecretKeyPrefix) {
    return absl::InvalidArgumentError(
        absl::StrCat("secret key must start with ", kSecretKeyPrefix));
  }
  absl::string_view b64 = contents.substr(kSecretKeyPrefix.size());
  std::string raw;
  if (!absl::Base64Unescape(b64, &raw) || raw.size() != kSecretKeySize ||
      absl::Base64Escape(raw) != b64) {
    OPENSSL_cleanse(raw.data(), raw.size());
    return absl::InvalidArgumentError(
        "secret key is not base64 of exactly 32 bytes");
  }
  SecretKey key;
  std::memcpy(key.data(), raw.data(), key.size());
  OPENSSL_cleanse(raw.data(), raw.size());
  return key;
}

std::string FormatSecretKey(const SecretKey& key) {
  return absl::StrCat(
      kSecretKeyPrefix,
      absl::Base64Escape(absl::string_view(
          reinterpret_cast<const char*>(key.data()), key.size())),
      "\n");
}

absl::StatusOr<SecretKey> ReadSecretKeyFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    return absl::InternalError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        path,
        ": secret key file must not be accessible by group or others "
        "(chmod 600)"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat(path, ": cannot open"));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string contents = ss.str();
  auto key = ParseSecretKey(contents);
  OPENSSL_cleanse(contents.data(), contents.size());
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", key.status().message()));
  }
  return key;
}

absl::Status WritePrivateFile(const std::string& path,
                              absl::string_view contents) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(
          absl::StrCat(path, ": already exists, not overwriting"));
    }
    return absl::InternalError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  size_t off = 0;
  while (off < contents.size()) {
    ssize_t n = write(fd, contents.data() + off, contents.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      unlink(path.c_str());  // ours: created exclusively above
      return absl::InternalError(
          absl::StrCat(path, ": write: ", std::strerror(err)));
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    int err = errno;
    close(fd);
    unlink(path.c_str());
    return absl::InternalError(absl::StrCat(path, ": ", std::strerror(err)));
  }
  if (close(fd) != 0) {
    int err = errno;
    unlink(path.c_str());
    return absl::InternalError(absl::StrCat(path, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::Status WriteSecretKeyFile(const std::string& path, const SecretKey& key) {
  std::string text = FormatSecretKey(key);
  absl::Status st = WritePrivateFile(path, text);
  OPENSSL_cleanse(text.data(), text.size());
  return st;
}

}  // namespace clover::crypto
