// NIST SP 800-38G (Rev. 1) FF1 format-preserving encryption over AES
// (128/192/256-bit keys), for radix 2..36 with an explicit alphabet.
//
// Speed: the AES key schedule is done once; each Feistel round costs one or two
// AES block calls on a reused ECB context (the constant P block and the tweak
// prefix of Q are folded into the CBC-MAC state once per call), and numeral
// strings up to radix^v < 2^64 are carried as native integers across all ten
// rounds. Longer inputs use OpenSSL BIGNUMs.
#ifndef CLOVER_CRYPTO_FF1_H_
#define CLOVER_CRYPTO_FF1_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover::crypto {

inline constexpr absl::string_view kFf1Digits = "0123456789";
inline constexpr absl::string_view kFf1Alnum =
    "0123456789abcdefghijklmnopqrstuvwxyz";

// Not thread-safe: one per thread, or Clone() per worker.
class Ff1 {
 public:
  // Longest accepted input, in numerals, and longest tweak, in bytes: bounds
  // the cost of one call (the standard allows more; Clover's fields are short).
  static constexpr size_t kMaxLength = 256;
  static constexpr size_t kMaxTweak = 256;

  // `key`: 16, 24 or 32 bytes. `alphabet`: 2..36 distinct bytes; the i-th byte
  // is numeral i. Errors: InvalidArgument for a bad key length or alphabet;
  // Internal on OpenSSL failure.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Ff1>> Create(
      absl::string_view key, absl::string_view alphabet);
  ~Ff1();
  Ff1(const Ff1&) = delete;
  Ff1& operator=(const Ff1&) = delete;

  size_t radix() const;
  // Shortest input such that radix^length >= 1,000,000 (SP 800-38G Rev. 1).
  size_t min_length() const;

  // Encrypts/decrypts a string over the alphabet; the output has the same
  // length and alphabet. Errors: InvalidArgument if the length is outside
  // [min_length(), kMaxLength], the tweak is longer than kMaxTweak, or a
  // character is not in the alphabet (the message gives its position, never the
  // input); Internal on an OpenSSL failure.
  [[nodiscard]] absl::StatusOr<std::string> Encrypt(absl::string_view text,
                                                    absl::string_view tweak);
  [[nodiscard]] absl::StatusOr<std::string> Decrypt(absl::string_view text,
                                                    absl::string_view tweak);

  // The same on numeral arrays (each value < radix); `out` may alias `in`.
  [[nodiscard]] absl::Status EncryptNumerals(const uint8_t* in, size_t n,
                                             absl::string_view tweak,
                                             uint8_t* out);
  [[nodiscard]] absl::Status DecryptNumerals(const uint8_t* in, size_t n,
                                             absl::string_view tweak,
                                             uint8_t* out);

  [[nodiscard]] absl::StatusOr<std::unique_ptr<Ff1>> Clone() const;

 private:
  struct State;
  explicit Ff1(std::unique_ptr<State> state);
  absl::Status Crypt(bool encrypt, const uint8_t* in, size_t n,
                     absl::string_view tweak, uint8_t* out);
  absl::StatusOr<std::string> CryptText(bool encrypt, absl::string_view text,
                                        absl::string_view tweak);
  std::unique_ptr<State> state_;
};

}  // namespace clover::crypto

#endif  // CLOVER_CRYPTO_FF1_H_
