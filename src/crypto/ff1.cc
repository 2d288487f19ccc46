#include "crypto/ff1.h"

#include <openssl/bn.h>

#include <array>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "crypto/aes_block.h"
#include "crypto/openssl_util.h"

namespace clover::crypto {
namespace {

using u128 = unsigned __int128;

struct BnCtxDeleter {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;

// radix^e if it is below 2^64.
std::optional<uint64_t> PowFits(uint64_t radix, size_t e) {
  uint64_t r = 1;
  for (size_t i = 0; i < e; ++i) {
    if (r > UINT64_MAX / radix) return std::nullopt;
    r *= radix;
  }
  return r;
}

size_t ByteLength(uint64_t x) {
  size_t n = 0;
  while (x != 0) {
    ++n;
    x >>= 8;
  }
  return n;
}

}  // namespace

// Everything that depends only on the input length, cached for the last length
// seen.
struct LengthParams {
  size_t n = 0, u = 0, v = 0, b = 0, d = 0;
  bool native = false;
  uint64_t ru = 0, rv = 0;  // radix^u, radix^v when native
  BnPtr bu, bv;             // radix^u, radix^v otherwise
};

struct Ff1::State {
  std::unique_ptr<AesBlockCipher> aes;
  std::string key;  // kept only for Clone(); wiped on destruction
  std::string alphabet;
  std::array<int16_t, 256> index{};
  uint32_t radix = 0;
  size_t min_length = 0;
  LengthParams lp;
  std::unique_ptr<BN_CTX, BnCtxDeleter> bn_ctx;

  ~State() {
    if (!key.empty()) OPENSSL_cleanse(key.data(), key.size());
  }
};

Ff1::Ff1(std::unique_ptr<State> state) : state_(std::move(state)) {}
Ff1::~Ff1() = default;

size_t Ff1::radix() const { return state_->radix; }
size_t Ff1::min_length() const { return state_->min_length; }

absl::StatusOr<std::unique_ptr<Ff1>> Ff1::Create(absl::string_view key,
                                                 absl::string_view alphabet) {
  if (alphabet.size() < 2 || alphabet.size() > 36) {
    return absl::InvalidArgumentError(
        "FF1 alphabet must have 2 to 36 characters");
  }
  auto state = std::make_unique<State>();
  state->index.fill(-1);
  for (size_t i = 0; i < alphabet.size(); ++i) {
    auto c = static_cast<unsigned char>(alphabet[i]);
    if (state->index[c] != -1) {
      return absl::InvalidArgumentError(
          "FF1 alphabet has a repeated character");
    }
    state->index[c] = static_cast<int16_t>(i);
  }
  auto aes = AesBlockCipher::Create(key);
  if (!aes.ok())
    return absl::InvalidArgumentError("FF1 key must be 16, 24 or 32 bytes");
  state->aes = std::move(*aes);
  state->key = std::string(key);
  state->alphabet = std::string(alphabet);
  state->radix = static_cast<uint32_t>(alphabet.size());
  size_t len = 1;
  uint64_t pow = state->radix;
  while (pow < 1000000) {
    pow *= state->radix;
    ++len;
  }
  state->min_length = len < 2 ? 2 : len;
  return std::unique_ptr<Ff1>(new Ff1(std::move(state)));
}

absl::StatusOr<std::unique_ptr<Ff1>> Ff1::Clone() const {
  return Create(state_->key, state_->alphabet);
}

absl::Status Ff1::EncryptNumerals(const uint8_t* in, size_t n,
                                  absl::string_view tweak, uint8_t* out) {
  return Crypt(true, in, n, tweak, out);
}

absl::Status Ff1::DecryptNumerals(const uint8_t* in, size_t n,
                                  absl::string_view tweak, uint8_t* out) {
  return Crypt(false, in, n, tweak, out);
}

absl::StatusOr<std::string> Ff1::Encrypt(absl::string_view text,
                                         absl::string_view tweak) {
  return CryptText(true, text, tweak);
}

absl::StatusOr<std::string> Ff1::Decrypt(absl::string_view text,
                                         absl::string_view tweak) {
  return CryptText(false, text, tweak);
}

absl::StatusOr<std::string> Ff1::CryptText(bool encrypt, absl::string_view text,
                                           absl::string_view tweak) {
  if (text.size() > kMaxLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("FF1 input longer than ", kMaxLength, " characters"));
  }
  uint8_t numerals[kMaxLength] = {};
  for (size_t i = 0; i < text.size(); ++i) {
    int16_t v = state_->index[static_cast<unsigned char>(text[i])];
    if (v < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "FF1 input character at position ", i, " is not in the alphabet"));
    }
    numerals[i] = static_cast<uint8_t>(v);
  }
  absl::Status s = Crypt(encrypt, numerals, text.size(), tweak, numerals);
  if (!s.ok()) return s;
  std::string out(text.size(), '\0');
  for (size_t i = 0; i < text.size(); ++i)
    out[i] = state_->alphabet[numerals[i]];
  OPENSSL_cleanse(numerals, text.size());
  return out;
}

absl::Status Ff1::Crypt(bool encrypt, const uint8_t* in, size_t n,
                        absl::string_view tweak, uint8_t* out) {
  State& st = *state_;
  const uint32_t radix = st.radix;
  if (n < st.min_length || n > kMaxLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("FF1 input length must be in [", st.min_length, ", ",
                     kMaxLength, "] for radix ", radix));
  }
  if (tweak.size() > kMaxTweak) {
    return absl::InvalidArgumentError(
        absl::StrCat("FF1 tweak longer than ", kMaxTweak, " bytes"));
  }
  for (size_t i = 0; i < n; ++i) {
    if (in[i] >= radix)
      return absl::InvalidArgumentError("FF1 numeral out of range");
  }

  LengthParams& lp = st.lp;
  if (lp.n != n) {
    lp = LengthParams();
    lp.n = n;
    lp.u = n / 2;
    lp.v = n - lp.u;
    std::optional<uint64_t> rv = PowFits(radix, lp.v);
    if (rv.has_value()) {
      lp.native = true;
      lp.rv = *rv;
      lp.ru = *PowFits(radix, lp.u);
      lp.b = ByteLength(lp.rv - 1);
    } else {
      if (st.bn_ctx == nullptr) st.bn_ctx.reset(BN_CTX_new());
      lp.bu.reset(BN_new());
      lp.bv.reset(BN_new());
      BnPtr r(BN_new()), e(BN_new());
      if (st.bn_ctx == nullptr || lp.bu == nullptr || lp.bv == nullptr ||
          r == nullptr || e == nullptr || BN_set_word(r.get(), radix) != 1 ||
          BN_set_word(e.get(), lp.u) != 1 ||
          BN_exp(lp.bu.get(), r.get(), e.get(), st.bn_ctx.get()) != 1 ||
          BN_set_word(e.get(), lp.v) != 1 ||
          BN_exp(lp.bv.get(), r.get(), e.get(), st.bn_ctx.get()) != 1 ||
          BN_copy(e.get(), lp.bv.get()) == nullptr ||
          BN_sub_word(e.get(), 1) != 1) {
        lp.n = 0;
        return internal::OpenSslError("FF1 bignum");
      }
      lp.b = static_cast<size_t>(BN_num_bytes(e.get()));
    }
    lp.d = 4 * ((lp.b + 3) / 4) + 4;
  }
  const size_t u = lp.u, b = lp.b, d = lp.d, t = tweak.size();

  // CBC-MAC state after P and after the constant (tweak and zero-pad) prefix of
  // Q.
  uint8_t p[16] = {1,
                   2,
                   1,
                   static_cast<uint8_t>(radix >> 16),
                   static_cast<uint8_t>(radix >> 8),
                   static_cast<uint8_t>(radix),
                   10,
                   static_cast<uint8_t>(u % 256),
                   static_cast<uint8_t>(n >> 24),
                   static_cast<uint8_t>(n >> 16),
                   static_cast<uint8_t>(n >> 8),
                   static_cast<uint8_t>(n),
                   static_cast<uint8_t>(t >> 24),
                   static_cast<uint8_t>(t >> 16),
                   static_cast<uint8_t>(t >> 8),
                   static_cast<uint8_t>(t)};
  uint8_t y0[16];
  absl::Status s = st.aes->Encrypt(p, y0);
  if (!s.ok()) return s;
  const size_t pad = (16 - ((t + b + 1) % 16)) % 16;
  const size_t prefix = t + pad;  // bytes of Q before [i]
  const size_t full = prefix / 16;
  for (size_t blk = 0; blk < full; ++blk) {
    for (size_t k = 0; k < 16; ++k) {
      size_t pos = blk * 16 + k;
      y0[k] ^= pos < t ? static_cast<uint8_t>(tweak[pos]) : 0;
    }
    s = st.aes->Encrypt(y0, y0);
    if (!s.ok()) return s;
  }
  // The remaining bytes of Q: tail of the prefix, [i], NUM(B) in b bytes.
  const size_t rest = prefix - full * 16;
  const size_t tail_len = rest + 1 + b;  // a multiple of 16
  // Bounded by kMaxLength numerals of radix 36: b <= 83, so tail_len <= 112 and
  // d <= 88.
  std::array<uint8_t, 128> tail{};
  for (size_t k = 0; k < rest; ++k) {
    size_t pos = full * 16 + k;
    tail[k] = pos < t ? static_cast<uint8_t>(tweak[pos]) : 0;
  }
  const size_t extra_blocks = (d + 15) / 16 - 1;
  std::array<uint8_t, 128> sbuf{};

  // Computes S (first d bytes in sbuf) for round i given the bytes of NUM(B) in
  // tail.
  auto round_prf = [&](uint8_t i) -> absl::Status {
    tail[rest] = i;
    uint8_t r[16];
    std::memcpy(r, y0, 16);
    for (size_t off = 0; off < tail_len; off += 16) {
      for (size_t k = 0; k < 16; ++k) r[k] ^= tail[off + k];
      absl::Status e = st.aes->Encrypt(r, r);
      if (!e.ok()) return e;
    }
    std::memcpy(sbuf.data(), r, 16);
    if (extra_blocks > 0) {
      for (size_t j = 1; j <= extra_blocks; ++j) {
        uint8_t* blk = sbuf.data() + 16 * j;
        std::memcpy(blk, r, 16);
        for (int k = 0; k < 8; ++k)
          blk[15 - k] ^= static_cast<uint8_t>(j >> (8 * k));
      }
      absl::Status e =
          st.aes->Encrypt(sbuf.data() + 16, sbuf.data() + 16, extra_blocks);
      if (!e.ok()) return e;
    }
    return absl::OkStatus();
  };

  if (lp.native) {
    // d <= 12 here, so y fits in 128 bits.
    uint64_t a = 0, bnum = 0;
    for (size_t k = 0; k < u; ++k) a = a * radix + in[k];
    for (size_t k = u; k < n; ++k) bnum = bnum * radix + in[k];
    for (int r = 0; r < 10; ++r) {
      int i = encrypt ? r : 9 - r;
      uint64_t feed = encrypt ? bnum : a;
      for (size_t k = 0; k < b; ++k)
        tail[rest + 1 + k] = static_cast<uint8_t>(feed >> (8 * (b - 1 - k)));
      s = round_prf(static_cast<uint8_t>(i));
      if (!s.ok()) return s;
      u128 y = 0;
      for (size_t k = 0; k < d; ++k) y = (y << 8) | sbuf[k];
      uint64_t rm = (i % 2 == 0) ? lp.ru : lp.rv;
      uint64_t ym = static_cast<uint64_t>(y % rm);
      if (encrypt) {
        uint64_t c = static_cast<uint64_t>((static_cast<u128>(a) + ym) % rm);
        a = bnum;
        bnum = c;
      } else {
        uint64_t c =
            static_cast<uint64_t>((static_cast<u128>(bnum) + rm - ym) % rm);
        bnum = a;
        a = c;
      }
    }
    for (size_t k = u; k-- > 0;) {
      out[k] = static_cast<uint8_t>(a % radix);
      a /= radix;
    }
    for (size_t k = n; k-- > u;) {
      out[k] = static_cast<uint8_t>(bnum % radix);
      bnum /= radix;
    }
    OPENSSL_cleanse(tail.data(), tail.size());
    OPENSSL_cleanse(sbuf.data(), sbuf.size());
    return absl::OkStatus();
  }

  BN_CTX* ctx = st.bn_ctx.get();
  BnPtr a(BN_new()), bn(BN_new()), y(BN_new()), c(BN_new()), tmp(BN_new());
  if (a == nullptr || bn == nullptr || y == nullptr || c == nullptr ||
      tmp == nullptr) {
    return internal::OpenSslError("FF1 bignum");
  }
  BN_zero(a.get());
  BN_zero(bn.get());
  for (size_t k = 0; k < u; ++k) {
    if (BN_mul_word(a.get(), radix) != 1 || BN_add_word(a.get(), in[k]) != 1) {
      return internal::OpenSslError("FF1 bignum");
    }
  }
  for (size_t k = u; k < n; ++k) {
    if (BN_mul_word(bn.get(), radix) != 1 ||
        BN_add_word(bn.get(), in[k]) != 1) {
      return internal::OpenSslError("FF1 bignum");
    }
  }
  for (int r = 0; r < 10; ++r) {
    int i = encrypt ? r : 9 - r;
    const BIGNUM* feed = encrypt ? bn.get() : a.get();
    if (BN_bn2binpad(feed, tail.data() + rest + 1, static_cast<int>(b)) < 0) {
      return internal::OpenSslError("FF1 bignum");
    }
    s = round_prf(static_cast<uint8_t>(i));
    if (!s.ok()) return s;
    if (BN_bin2bn(sbuf.data(), static_cast<int>(d), y.get()) == nullptr) {
      return internal::OpenSslError("FF1 bignum");
    }
    const BIGNUM* rm = (i % 2 == 0) ? lp.bu.get() : lp.bv.get();
    if (encrypt) {
      if (BN_mod_add(c.get(), a.get(), y.get(), rm, ctx) != 1) {
        return internal::OpenSslError("FF1 bignum");
      }
      std::swap(a, bn);  // A <- B
      std::swap(bn, c);  // B <- C
    } else {
      if (BN_mod_sub(c.get(), bn.get(), y.get(), rm, ctx) != 1) {
        return internal::OpenSslError("FF1 bignum");
      }
      std::swap(bn, a);  // B <- A
      std::swap(a, c);   // A <- C
    }
  }
  for (size_t k = u; k-- > 0;) {
    BN_ULONG rem = BN_div_word(a.get(), radix);
    if (rem == static_cast<BN_ULONG>(-1))
      return internal::OpenSslError("FF1 bignum");
    out[k] = static_cast<uint8_t>(rem);
  }
  for (size_t k = n; k-- > u;) {
    BN_ULONG rem = BN_div_word(bn.get(), radix);
    if (rem == static_cast<BN_ULONG>(-1))
      return internal::OpenSslError("FF1 bignum");
    out[k] = static_cast<uint8_t>(rem);
  }
  OPENSSL_cleanse(tail.data(), tail.size());
  OPENSSL_cleanse(sbuf.data(), sbuf.size());
  return absl::OkStatus();
}

}  // namespace clover::crypto
