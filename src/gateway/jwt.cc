#include "gateway/jwt.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/json_parse.h"
#include "rapidjson/document.h"

namespace clover::gateway {

struct JwtPublicKey::Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

namespace {

constexpr size_t kMaxTokenBytes = 8 * 1024;
constexpr size_t kCoordinateBytes = 32;  // P-256

// P-256's group order n (FIPS 186-4 D.1.2.3) and floor(n/2), big-endian.
constexpr unsigned char kP256Order[kCoordinateBytes] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
    0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
constexpr unsigned char kP256HalfOrder[kCoordinateBytes] = {
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b,
    0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8};

constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int DecodeChar(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

absl::Status Invalid(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("malformed JWT: ", why));
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// Reads which of the two supported kinds `pkey` is.
absl::StatusOr<JwtAlgorithm> AlgorithmOf(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "ED25519")) return JwtAlgorithm::kEdDSA;
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) == 1 &&
        (absl::string_view(group, len) == "prime256v1" ||
         absl::string_view(group, len) == "P-256")) {
      return JwtAlgorithm::kES256;
    }
    return absl::InvalidArgumentError(
        "EC key is not on curve P-256 (needed for ES256)");
  }
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    // Below 2048 bits RSA is breakable in practice; above 8192 a key only
    // costs verification time.
    const int bits = EVP_PKEY_get_bits(pkey);
    if (bits < 2048 || bits > 8192) {
      return absl::InvalidArgumentError(
          "RSA key must have 2048 to 8192 bits (for RS256)");
    }
    return JwtAlgorithm::kRS256;
  }
  return absl::InvalidArgumentError("key is neither Ed25519, EC P-256 nor RSA");
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path, "'"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool IsZero(const unsigned char* p) {
  for (size_t i = 0; i < kCoordinateBytes; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

// JOSE r||s (64 bytes) -> DER ECDSA-Sig-Value. Only the one canonical form of
// a signature is accepted: r in [1, n-1] and s in [1, n/2]. (r, n-s) verifies
// as well as (r, s), so without the low-S rule anyone could mint a second,
// different token string from any token they see.
absl::StatusOr<std::string> JoseToDer(absl::string_view sig) {
  if (sig.size() != 2 * kCoordinateBytes) {
    return absl::UnauthenticatedError(
        "invalid JWT: ES256 signature must be 64 bytes");
  }
  const auto* r_bytes = reinterpret_cast<const unsigned char*>(sig.data());
  const unsigned char* s_bytes = r_bytes + kCoordinateBytes;
  if (IsZero(r_bytes) ||
      std::memcmp(r_bytes, kP256Order, kCoordinateBytes) >= 0 ||
      IsZero(s_bytes) ||
      std::memcmp(s_bytes, kP256HalfOrder, kCoordinateBytes) > 0) {
    return absl::UnauthenticatedError(
        "invalid JWT: ES256 signature not in canonical form (r in [1,n-1], "
        "low s)");
  }
  ECDSA_SIG* ecdsa = ECDSA_SIG_new();
  if (ecdsa == nullptr) return absl::InternalError("out of memory");
  const auto* bytes = reinterpret_cast<const unsigned char*>(sig.data());
  BIGNUM* r = BN_bin2bn(bytes, kCoordinateBytes, nullptr);
  BIGNUM* s = BN_bin2bn(bytes + kCoordinateBytes, kCoordinateBytes, nullptr);
  if (r == nullptr || s == nullptr || ECDSA_SIG_set0(ecdsa, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(ecdsa);
    return absl::InternalError("cannot build ECDSA signature");
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(ecdsa, &der);
  ECDSA_SIG_free(ecdsa);
  if (len <= 0) return absl::InternalError("cannot encode ECDSA signature");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

// DER ECDSA-Sig-Value -> JOSE r||s, with s replaced by n-s if it is in the
// upper half: the canonical form JoseToDer accepts.
absl::StatusOr<std::string> DerToJose(absl::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (ecdsa == nullptr)
    return absl::InternalError("cannot decode ECDSA signature");
  BIGNUM* n = BN_bin2bn(kP256Order, kCoordinateBytes, nullptr);
  BIGNUM* half = BN_bin2bn(kP256HalfOrder, kCoordinateBytes, nullptr);
  BIGNUM* s = BN_dup(ECDSA_SIG_get0_s(ecdsa));
  bool ok = n != nullptr && half != nullptr && s != nullptr &&
            (BN_cmp(s, half) <= 0 || BN_sub(s, n, s) == 1);
  std::string out(2 * kCoordinateBytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  ok = ok &&
       BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa), o, kCoordinateBytes) ==
           kCoordinateBytes &&
       BN_bn2binpad(s, o + kCoordinateBytes, kCoordinateBytes) ==
           kCoordinateBytes;
  BN_free(n);
  BN_free(half);
  BN_free(s);
  ECDSA_SIG_free(ecdsa);
  if (!ok) return absl::InternalError("cannot encode ECDSA signature");
  return out;
}

// The value of member `name` of object `obj`, or nullptr. Indexing rather than
// comparing RapidJSON iterators, whose operators are ambiguous under C++20's
// rewritten comparisons.
const rapidjson::Value* Member(const rapidjson::Value& obj,
                               absl::string_view name) {
  auto begin = obj.MemberBegin();
  for (rapidjson::SizeType i = 0; i < obj.MemberCount(); ++i) {
    const auto& m = begin[i];
    if (absl::string_view(m.name.GetString(), m.name.GetStringLength()) == name)
      return &m.value;
  }
  return nullptr;
}

absl::StatusOr<rapidjson::Document> ParseObject(absl::string_view b64,
                                                absl::string_view what) {
  auto json = Base64UrlDecode(b64);
  if (!json.ok()) return Invalid(absl::StrCat(what, " is not base64url"));
  rapidjson::Document doc;
  // Trailing bytes after the object are an error, not ignored.
  if (!ParseJson(*json, &doc).ok() || !doc.IsObject()) {
    return Invalid(absl::StrCat(what, " is not a JSON object"));
  }
  // Two values for one name would let different readers see different claims.
  std::vector<absl::string_view> names;
  auto begin = doc.MemberBegin();
  for (rapidjson::SizeType i = 0; i < doc.MemberCount(); ++i) {
    absl::string_view name(begin[i].name.GetString(),
                           begin[i].name.GetStringLength());
    for (absl::string_view seen : names) {
      if (seen == name)
        return Invalid(absl::StrCat(what, " has a duplicate member"));
    }
    names.push_back(name);
  }
  return doc;
}

absl::StatusOr<std::optional<absl::Time>> TimeClaim(
    const rapidjson::Value& payload, const char* name) {
  const rapidjson::Value* value = Member(payload, name);
  if (value == nullptr) return std::optional<absl::Time>();
  if (!value->IsNumber()) {
    return Invalid(absl::StrCat("claim '", name, "' must be a number"));
  }
  double v = value->GetDouble();
  if (!(v > -1e12 && v < 1e12))
    return Invalid(absl::StrCat("claim '", name, "' out of range"));
  return std::optional<absl::Time>(
      absl::FromUnixMicros(static_cast<int64_t>(v * 1e6)));
}

absl::Status StringClaim(const rapidjson::Value& payload, const char* name,
                         std::string& out) {
  const rapidjson::Value* value = Member(payload, name);
  if (value == nullptr) return absl::OkStatus();
  if (!value->IsString()) {
    return Invalid(absl::StrCat("claim '", name, "' must be a string"));
  }
  out.assign(value->GetString(), value->GetStringLength());
  return absl::OkStatus();
}

}  // namespace

absl::string_view ToString(JwtAlgorithm alg) {
  switch (alg) {
    case JwtAlgorithm::kEdDSA:
      return "EdDSA";
    case JwtAlgorithm::kES256:
      return "ES256";
    case JwtAlgorithm::kRS256:
      return "RS256";
  }
  return "";
}

absl::StatusOr<std::string> Base64UrlDecode(absl::string_view in) {
  if (in.size() % 4 == 1)
    return absl::InvalidArgumentError("base64url: impossible length");
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = DecodeChar(c);
    if (v < 0)
      return absl::InvalidArgumentError("base64url: invalid character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return absl::InvalidArgumentError("base64url: non-zero trailing bits");
  }
  return out;
}

std::string Base64UrlEncode(absl::string_view in) {
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    acc = (acc << 8) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

absl::StatusOr<ParsedJwt> ParseJwt(absl::string_view token) {
  if (token.size() > kMaxTokenBytes) return Invalid("token too long");
  size_t dot1 = token.find('.');
  if (dot1 == absl::string_view::npos)
    return Invalid("expected three dot-separated parts");
  size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == absl::string_view::npos ||
      token.find('.', dot2 + 1) != absl::string_view::npos) {
    return Invalid("expected three dot-separated parts");
  }
  ParsedJwt jwt;
  auto header = ParseObject(token.substr(0, dot1), "header");
  if (!header.ok()) return header.status();
  const rapidjson::Value* alg = Member(*header, "alg");
  if (alg == nullptr || !alg->IsString()) {
    return Invalid("header has no string 'alg'");
  }
  jwt.alg.assign(alg->GetString(), alg->GetStringLength());
  if (Member(*header, "crit") != nullptr)
    return Invalid("'crit' header parameters are not supported");
  if (Member(*header, "jku") != nullptr || Member(*header, "jwk") != nullptr ||
      Member(*header, "x5u") != nullptr || Member(*header, "x5c") != nullptr) {
    // Keys come from configuration only; a token naming its own key is refused
    // outright.
    return Invalid("embedded or remote key references are not accepted");
  }
  if (const rapidjson::Value* kid = Member(*header, "kid"); kid != nullptr) {
    if (!kid->IsString()) return Invalid("'kid' must be a string");
    jwt.kid.assign(kid->GetString(), kid->GetStringLength());
  }

  auto payload =
      ParseObject(token.substr(dot1 + 1, dot2 - dot1 - 1), "payload");
  if (!payload.ok()) return payload.status();
  if (absl::Status s = StringClaim(*payload, "sub", jwt.claims.sub); !s.ok())
    return s;
  if (absl::Status s = StringClaim(*payload, "iss", jwt.claims.iss); !s.ok())
    return s;
  if (const rapidjson::Value* aud = Member(*payload, "aud"); aud != nullptr) {
    if (aud->IsString()) {
      jwt.claims.aud.emplace_back(aud->GetString(), aud->GetStringLength());
    } else if (aud->IsArray()) {
      for (rapidjson::SizeType i = 0; i < aud->Size(); ++i) {
        const rapidjson::Value& v = (*aud)[i];
        if (!v.IsString()) return Invalid("claim 'aud' must hold strings");
        jwt.claims.aud.emplace_back(v.GetString(), v.GetStringLength());
      }
    } else {
      return Invalid("claim 'aud' must be a string or an array of strings");
    }
  }
  auto exp = TimeClaim(*payload, "exp");
  if (!exp.ok()) return exp.status();
  jwt.claims.exp = *exp;
  auto nbf = TimeClaim(*payload, "nbf");
  if (!nbf.ok()) return nbf.status();
  jwt.claims.nbf = *nbf;
  auto iat = TimeClaim(*payload, "iat");
  if (!iat.ok()) return iat.status();
  jwt.claims.iat = *iat;

  auto signature = Base64UrlDecode(token.substr(dot2 + 1));
  if (!signature.ok()) return Invalid("signature is not base64url");
  if (signature->empty()) return Invalid("empty signature");
  jwt.signature = *std::move(signature);
  jwt.signing_input.assign(token.data(), dot2);
  return jwt;
}

JwtPublicKey::JwtPublicKey(std::unique_ptr<Key> key, JwtAlgorithm alg)
    : key_(std::move(key)), alg_(alg) {}
JwtPublicKey::~JwtPublicKey() = default;

absl::StatusOr<std::unique_ptr<JwtPublicKey>> JwtPublicKey::FromPem(
    absl::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return absl::InternalError("out of memory");
  auto key = std::make_unique<Key>();
  key->pkey = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key->pkey == nullptr) {
    return absl::InvalidArgumentError(
        "not a PEM public key (expected BEGIN PUBLIC KEY)");
  }
  auto alg = AlgorithmOf(key->pkey);
  if (!alg.ok()) return alg.status();
  return std::unique_ptr<JwtPublicKey>(new JwtPublicKey(std::move(key), *alg));
}

absl::StatusOr<std::unique_ptr<JwtPublicKey>> JwtPublicKey::FromPemFile(
    const std::string& path) {
  auto pem = ReadFile(path);
  if (!pem.ok()) return pem.status();
  auto key = FromPem(*pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "': ", key.status().message()));
  }
  return key;
}

absl::Status JwtPublicKey::Verify(absl::string_view signing_input,
                                  absl::string_view signature) const {
  std::string der;
  absl::string_view sig = signature;
  const EVP_MD* md = nullptr;
  if (alg_ == JwtAlgorithm::kES256) {
    auto converted = JoseToDer(signature);
    if (!converted.ok()) return converted.status();
    der = *std::move(converted);
    sig = der;
    md = EVP_sha256();
  } else if (alg_ == JwtAlgorithm::kRS256) {
    if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(key_->pkey)))
      return absl::UnauthenticatedError(
          "invalid JWT: RS256 signature length is not the key's size");
    md = EVP_sha256();
  } else if (signature.size() != 64) {
    return absl::UnauthenticatedError(
        "invalid JWT: EdDSA signature must be 64 bytes");
  }
  MdCtx ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return absl::InternalError("out of memory");
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key_->pkey) != 1) {
    return absl::InternalError("cannot initialise signature verification");
  }
  int rc = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
      reinterpret_cast<const unsigned char*>(signing_input.data()),
      signing_input.size());
  if (rc != 1)
    return absl::UnauthenticatedError("invalid JWT: signature does not verify");
  return absl::OkStatus();
}

absl::Status VerifyJwt(const ParsedJwt& jwt, const JwtPublicKey& key,
                       const JwtExpectations& expect) {
  if (jwt.alg != ToString(key.algorithm())) {
    return absl::UnauthenticatedError(absl::StrCat(
        "invalid JWT: algorithm not accepted for this principal (expected ",
        ToString(key.algorithm()), ")"));
  }
  if (absl::Status s = key.Verify(jwt.signing_input, jwt.signature); !s.ok())
    return s;
  const JwtClaims& c = jwt.claims;
  if (!c.exp.has_value())
    return absl::UnauthenticatedError("invalid JWT: no 'exp' claim");
  if (expect.now > *c.exp + expect.leeway) {
    return absl::UnauthenticatedError("invalid JWT: token expired");
  }
  // A stolen token is good until it expires: bound how long that can be.
  if (*c.exp > expect.now + expect.max_lifetime + expect.leeway) {
    return absl::UnauthenticatedError(
        "invalid JWT: 'exp' is further ahead than the maximum token lifetime");
  }
  if (c.iat.has_value()) {
    if (*c.iat > expect.now + expect.leeway) {
      return absl::UnauthenticatedError("invalid JWT: issued in the future");
    }
    if (*c.exp - *c.iat > expect.max_lifetime) {
      return absl::UnauthenticatedError(
          "invalid JWT: lifetime ('exp' - 'iat') above the maximum");
    }
  }
  if (c.nbf.has_value() && expect.now + expect.leeway < *c.nbf) {
    return absl::UnauthenticatedError("invalid JWT: token not yet valid");
  }
  if (c.iss != expect.issuer) {
    return absl::UnauthenticatedError("invalid JWT: issuer not accepted");
  }
  bool audience_ok = false;
  for (const std::string& aud : c.aud)
    audience_ok = audience_ok || aud == expect.audience;
  if (!audience_ok)
    return absl::UnauthenticatedError("invalid JWT: audience not accepted");
  return absl::OkStatus();
}

JwtSigner::JwtSigner(std::unique_ptr<JwtPublicKey::Key> key, JwtAlgorithm alg)
    : key_(std::move(key)), alg_(alg) {}
JwtSigner::~JwtSigner() = default;

absl::StatusOr<std::unique_ptr<JwtSigner>> JwtSigner::FromPem(
    absl::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return absl::InternalError("out of memory");
  auto key = std::make_unique<JwtPublicKey::Key>();
  key->pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key->pkey == nullptr)
    return absl::InvalidArgumentError("not a PEM private key");
  auto alg = AlgorithmOf(key->pkey);
  if (!alg.ok()) return alg.status();
  return std::unique_ptr<JwtSigner>(new JwtSigner(std::move(key), *alg));
}

absl::StatusOr<std::string> JwtSigner::SignBytes(absl::string_view data) const {
  MdCtx ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return absl::InternalError("out of memory");
  const EVP_MD* md = alg_ == JwtAlgorithm::kEdDSA ? nullptr : EVP_sha256();
  if (EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key_->pkey) != 1) {
    return absl::InternalError("cannot initialise signing");
  }
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1) {
    return absl::InternalError("signing failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()),
                     &len, in, data.size()) != 1) {
    return absl::InternalError("signing failed");
  }
  sig.resize(len);
  if (alg_ == JwtAlgorithm::kES256) return DerToJose(sig);
  return sig;
}

absl::StatusOr<std::string> JwtSigner::Sign(
    absl::string_view payload_json) const {
  std::string input =
      absl::StrCat(Base64UrlEncode(absl::StrCat("{\"alg\":\"", ToString(alg_),
                                                "\",\"typ\":\"JWT\"}")),
                   ".", Base64UrlEncode(payload_json));
  auto sig = SignBytes(input);
  if (!sig.ok()) return sig.status();
  return absl::StrCat(input, ".", Base64UrlEncode(*sig));
}

}  // namespace clover::gateway
