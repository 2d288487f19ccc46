// Fuzzes the FF1 input path: crypto::Ff1 on arbitrary radix/tweak/numerals and
// text, and the Pseudonymizer's ff1 transform of digits / E.164 / integer
// fields on arbitrary raw values. Invariants: no crash or hang; encryption
// preserves length and alphabet and decrypts back; format-preserving outputs
// keep their format and reverse exactly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "config/deployment.h"
#include "crypto/ff1.h"
#include "vault/pseudonymizer.h"
#include "vault/token_keys.h"

namespace {

constexpr absl::string_view kAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz";

struct Fixture {
  std::unique_ptr<clover::crypto::Ff1> ff1[37];
  clover::Deployment deployment;
  std::unique_ptr<clover::vault::Pseudonymizer> pseudo;
  std::unique_ptr<clover::vault::TokenKeyRing> ring;
  std::shared_ptr<const clover::vault::TokenKeys> keys;
  clover::FieldSpec fields[3];
};

Fixture& Get() {
  static Fixture* f = [] {
    auto* fx = new Fixture;
    for (size_t radix = 2; radix <= 36; ++radix) {
      auto c = clover::crypto::Ff1::Create(
          std::string(radix % 3 == 0 ? 16 : 32, 'k'),
          kAlphabet.substr(0, radix));
      if (!c.ok()) std::abort();
      fx->ff1[radix] = std::move(*c);
    }
    fx->pseudo = std::make_unique<clover::vault::Pseudonymizer>(fx->deployment);
    clover::crypto::SecretKey root;
    root.fill(9);
    fx->ring = std::make_unique<clover::vault::TokenKeyRing>(root);
    fx->keys = *fx->ring->Get("us", "analytics");
    clover::FieldFormat formats[] = {clover::FieldFormat::kDigits,
                                     clover::FieldFormat::kE164,
                                     clover::FieldFormat::kInteger};
    for (int i = 0; i < 3; ++i) {
      fx->fields[i].name = "f" + std::to_string(i);
      fx->fields[i].format = formats[i];
      fx->fields[i].method = clover::PseudonymMethod::kFf1;
    }
    return fx;
  }();
  return *f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Fixture& fx = Get();
  const size_t radix = 2 + data[0] % 35;
  const size_t tweak_len = data[1] % 33;
  data += 2;
  size -= 2;
  if (tweak_len > size) return 0;
  absl::string_view tweak(reinterpret_cast<const char*>(data), tweak_len);
  absl::string_view rest(reinterpret_cast<const char*>(data + tweak_len),
                         size - tweak_len);

  // Numerals taken modulo the radix: must round-trip whenever the length is
  // acceptable.
  std::string text;
  for (char c : rest.substr(0, 300))
    text.push_back(kAlphabet[static_cast<uint8_t>(c) % radix]);
  clover::crypto::Ff1& ff1 = *fx.ff1[radix];
  auto ct = ff1.Encrypt(text, tweak);
  bool length_ok = text.size() >= ff1.min_length() &&
                   text.size() <= clover::crypto::Ff1::kMaxLength;
  if (ct.ok() != length_ok) std::abort();
  if (ct.ok()) {
    if (ct->size() != text.size()) std::abort();
    for (char c : *ct) {
      if (kAlphabet.substr(0, radix).find(c) == absl::string_view::npos)
        std::abort();
    }
    auto pt = ff1.Decrypt(*ct, tweak);
    if (!pt.ok() || *pt != text) std::abort();
  }
  // Raw bytes straight in: refused or handled, never a crash.
  (void)ff1.Encrypt(rest, tweak);

  // The pseudonymizer's ff1 path on arbitrary raw values.
  for (const clover::FieldSpec& field : fx.fields) {
    auto out = fx.pseudo->Transform(field, rest,
                                    clover::vault::TransformMode::kPseudonymize,
                                    *fx.keys, nullptr);
    if (!out.ok()) continue;
    if (out->size() != rest.size()) std::abort();
    auto back = fx.pseudo->ReverseFf1(field, *out, *fx.keys);
    if (back.ok() && *back != rest) std::abort();
  }
  return 0;
}
