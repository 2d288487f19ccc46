#include "gateway/jwks.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/json_parse.h"
#include "rapidjson/document.h"

namespace clover::gateway {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

absl::Status Bad(absl::string_view where, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("JWKS: ", where, ": ", why));
}

absl::string_view View(const rapidjson::Value& v) {
  return absl::string_view(v.GetString(), v.GetStringLength());
}

// Two values for one name would let two readers see two different keys.
absl::Status CheckUniqueNames(const rapidjson::Value& obj,
                              absl::string_view where) {
  std::vector<absl::string_view> names;
  auto begin = obj.MemberBegin();
  for (rapidjson::SizeType i = 0; i < obj.MemberCount(); ++i) {
    absl::string_view name = View(begin[i].name);
    for (absl::string_view seen : names) {
      if (seen == name) return Bad(where, "duplicate member name");
    }
    names.push_back(name);
  }
  return absl::OkStatus();
}

const rapidjson::Value* Member(const rapidjson::Value& obj,
                               absl::string_view name) {
  auto begin = obj.MemberBegin();
  for (rapidjson::SizeType i = 0; i < obj.MemberCount(); ++i) {
    if (View(begin[i].name) == name) return &begin[i].value;
  }
  return nullptr;
}

// Member `name` as a string: NotFound when absent, InvalidArgument when not a
// string.
absl::StatusOr<std::string> StringMember(const rapidjson::Value& obj,
                                         absl::string_view name,
                                         absl::string_view where) {
  const rapidjson::Value* v = Member(obj, name);
  if (v == nullptr) return absl::NotFoundError("");
  if (!v->IsString())
    return Bad(where, absl::StrCat("'", name, "' must be a string"));
  return std::string(View(*v));
}

absl::StatusOr<std::string> BytesMember(const rapidjson::Value& obj,
                                        absl::string_view name,
                                        absl::string_view where) {
  auto s = StringMember(obj, name, where);
  if (absl::IsNotFound(s.status()))
    return Bad(where, absl::StrCat("missing '", name, "'"));
  if (!s.ok()) return s.status();
  auto bytes = Base64UrlDecode(*s);
  if (!bytes.ok())
    return Bad(where, absl::StrCat("'", name, "' is not base64url"));
  return bytes;
}

absl::StatusOr<Pkey> Ed25519Key(const rapidjson::Value& k,
                                absl::string_view where) {
  auto x = BytesMember(k, "x", where);
  if (!x.ok()) return x.status();
  if (x->size() != 32) return Bad(where, "'x' must be 32 bytes for Ed25519");
  Pkey key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(x->data()), x->size()));
  if (key == nullptr) return Bad(where, "not an Ed25519 public key");
  return key;
}

// Builds a key from OpenSSL parameters (EVP_PKEY_fromdata); for EC the
// public point is decoded, which refuses points off the curve.
absl::StatusOr<Pkey> FromParams(const char* type, OSSL_PARAM_BLD* bld,
                                absl::string_view where) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* raw = nullptr;
  bool ok = params != nullptr && ctx != nullptr &&
            EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &raw, EVP_PKEY_PUBLIC_KEY, params) == 1;
  Pkey key(raw);
  if (ok) {
    EVP_PKEY_CTX* check =
        EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr);
    ok = check != nullptr && EVP_PKEY_public_check(check) == 1;
    EVP_PKEY_CTX_free(check);
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  if (!ok) return Bad(where, "not a valid public key");
  return key;
}

absl::StatusOr<Pkey> P256Key(const rapidjson::Value& k,
                             absl::string_view where) {
  auto x = BytesMember(k, "x", where);
  if (!x.ok()) return x.status();
  auto y = BytesMember(k, "y", where);
  if (!y.ok()) return y.status();
  // RFC 7518 §6.2.1.2: exactly the coordinate size, leading zeros kept.
  if (x->size() != 32 || y->size() != 32)
    return Bad(where, "'x' and 'y' must be 32 bytes for P-256");
  std::string point = absl::StrCat("\x04", *x, *y);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (bld == nullptr) return absl::InternalError("out of memory");
  bool ok = OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                            "prime256v1", 0) == 1 &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                             point.data(), point.size()) == 1;
  absl::StatusOr<Pkey> key =
      ok ? FromParams("EC", bld, where) : absl::InternalError("out of memory");
  OSSL_PARAM_BLD_free(bld);
  return key;
}

absl::StatusOr<Pkey> RsaKey(const rapidjson::Value& k,
                            absl::string_view where) {
  auto n = BytesMember(k, "n", where);
  if (!n.ok()) return n.status();
  auto e = BytesMember(k, "e", where);
  if (!e.ok()) return e.status();
  if (n->empty() || (*n)[0] == '\0')
    return Bad(where, "'n' must be unsigned big-endian without leading zeros");
  if (n->size() < 256 || n->size() > 1024)
    return Bad(where, "RSA modulus must have 2048 to 8192 bits");
  // e: odd, at least 3, at most 2^32 (what every implementation can use).
  if (e->empty() || e->size() > 4 || (*e)[0] == '\0' ||
      (static_cast<unsigned char>(e->back()) & 1) == 0 ||
      (e->size() == 1 && static_cast<unsigned char>((*e)[0]) < 3)) {
    return Bad(where, "RSA exponent must be odd, >= 3 and < 2^32");
  }
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                           static_cast<int>(n->size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                           static_cast<int>(e->size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  bool ok = bn_n != nullptr && bn_e != nullptr && bld != nullptr &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1;
  absl::StatusOr<Pkey> key =
      ok ? FromParams("RSA", bld, where) : absl::InternalError("out of memory");
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  return key;
}

// The key as the verifier's type (through its SubjectPublicKeyInfo, so the
// one constructor checks it: algorithm, curve, RSA size).
absl::StatusOr<std::shared_ptr<const JwtPublicKey>> ToJwtKey(
    EVP_PKEY* pkey, absl::string_view where) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return absl::InternalError("out of memory");
  std::string pem;
  if (PEM_write_bio_PUBKEY(bio, pkey) == 1) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    if (len > 0) pem.assign(data, static_cast<size_t>(len));
  }
  BIO_free(bio);
  if (pem.empty()) return absl::InternalError("cannot encode a JWKS key");
  auto key = JwtPublicKey::FromPem(pem);
  if (!key.ok()) return Bad(where, key.status().message());
  return std::shared_ptr<const JwtPublicKey>(*std::move(key));
}

bool Printable(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isprint(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<JwkSet> ParseJwks(absl::string_view json) {
  if (json.size() > kMaxJwksBytes) {
    return Bad("document",
               absl::StrCat("larger than ", kMaxJwksBytes, " bytes"));
  }
  rapidjson::Document doc;
  if (absl::Status s = ParseJson(json, &doc); !s.ok())
    return Bad("document", s.message());
  if (!doc.IsObject()) return Bad("document", "not a JSON object");
  if (absl::Status s = CheckUniqueNames(doc, "document"); !s.ok()) return s;
  const rapidjson::Value* keys = Member(doc, "keys");
  if (keys == nullptr || !keys->IsArray())
    return Bad("document", "no 'keys' array");
  if (keys->Size() > kMaxJwksKeys)
    return Bad("document", absl::StrCat("more than ", kMaxJwksKeys, " keys"));

  JwkSet set;
  for (rapidjson::SizeType i = 0; i < keys->Size(); ++i) {
    const rapidjson::Value& k = (*keys)[i];
    std::string where = absl::StrCat("keys[", i, "]");
    if (!k.IsObject()) return Bad(where, "not a JSON object");
    if (absl::Status s = CheckUniqueNames(k, where); !s.ok()) return s;
    for (const char* secret : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
      if (Member(k, secret) != nullptr) {
        return Bad(where, absl::StrCat("holds private or secret key member '",
                                       secret, "'"));
      }
    }
    auto kty = StringMember(k, "kty", where);
    if (absl::IsNotFound(kty.status())) return Bad(where, "missing 'kty'");
    if (!kty.ok()) return kty.status();
    auto use = StringMember(k, "use", where);
    if (!use.ok() && !absl::IsNotFound(use.status())) return use.status();
    auto alg = StringMember(k, "alg", where);
    if (!alg.ok() && !absl::IsNotFound(alg.status())) return alg.status();
    auto crv = StringMember(k, "crv", where);
    if (!crv.ok() && !absl::IsNotFound(crv.status())) return crv.status();

    // Which key this is; "" when it is not one for us.
    absl::string_view expected_alg;
    if (*kty == "OKP" && crv.ok() && *crv == "Ed25519") {
      expected_alg = "EdDSA";
    } else if (*kty == "EC" && crv.ok() && *crv == "P-256") {
      expected_alg = "ES256";
    } else if (*kty == "RSA") {
      expected_alg = "RS256";
    }
    if (use.ok() && *use != "sig") expected_alg = "";
    if (!expected_alg.empty() && alg.ok() && *alg != expected_alg) {
      // An RSA key for RS384/PS256 is someone else's; an "alg" of another
      // family on a key of ours is a broken or hostile set.
      const bool same_family =
          (*kty == "RSA" &&
           (absl::StartsWith(*alg, "RS") || absl::StartsWith(*alg, "PS"))) ||
          (*kty == "EC" && absl::StartsWith(*alg, "ES"));
      if (!same_family) {
        return Bad(where, absl::StrCat("'alg' ", Printable(*alg) ? *alg : "?",
                                       " does not fit a ", *kty, " key"));
      }
      expected_alg = "";
    }
    if (expected_alg.empty()) {
      ++set.skipped;
      continue;
    }

    auto kid = StringMember(k, "kid", where);
    if (absl::IsNotFound(kid.status())) return Bad(where, "missing 'kid'");
    if (!kid.ok()) return kid.status();
    if (kid->empty() || kid->size() > kMaxKidBytes)
      return Bad(where,
                 absl::StrCat("'kid' must have 1 to ", kMaxKidBytes, " bytes"));
    if (Printable(*kid)) where = absl::StrCat(where, " (kid '", *kid, "')");

    absl::StatusOr<Pkey> pkey = absl::InternalError("");
    if (expected_alg == "EdDSA") {
      pkey = Ed25519Key(k, where);
    } else if (expected_alg == "ES256") {
      pkey = P256Key(k, where);
    } else {
      pkey = RsaKey(k, where);
    }
    if (!pkey.ok()) return pkey.status();
    auto key = ToJwtKey(pkey->get(), where);
    if (!key.ok()) return key.status();
    if (ToString((*key)->algorithm()) != expected_alg)
      return Bad(where, "key type does not match its algorithm");
    if (!set.by_kid.emplace(*kid, *std::move(key)).second)
      return Bad(where, "duplicate 'kid'");
  }
  return set;
}

}  // namespace clover::gateway
