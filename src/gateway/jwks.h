// JSON Web Key Sets (RFC 7517 §5) of JWT verification keys, as an identity
// provider publishes them (its `jwks_uri`).
//
// Parsed strictly: anything this parser cannot vouch for makes the whole
// document an error, so that a caller keeps the set it had rather than
// running on a half-understood one. Errors never echo key material.
//
// Accepted keys (RFC 7518 §6, RFC 8037):
//   kty OKP, crv Ed25519, x          -> EdDSA
//   kty EC,  crv P-256,   x, y       -> ES256 (the point must be on the curve)
//   kty RSA, n, e (2048-8192 bits)   -> RS256
// Each needs a non-empty "kid" (at most 256 bytes), unique in the set.
// "alg", when present, must be the algorithm of the key's type (above); a
// token's "alg" must equal it too (gateway/jwt.h VerifyJwt), so an RSA key can
// never verify an HMAC or ECDSA token and vice versa.
//
// Skipped, as RFC 7517 §5 asks (a set may carry keys for other consumers):
// keys with "use" other than "sig", an unknown "kty", an EC or OKP curve
// other than the above, or an "alg" this verifier does not implement (RS384,
// PS256, ...). Refused (InvalidArgument): a document over kMaxJwksBytes or not
// a JSON object with a "keys" array, more than kMaxJwksKeys keys, duplicate
// member names in any object, a usable key with a missing/duplicate kid or a
// malformed member (wrong type, bad base64url, wrong length, point not on
// the curve, RSA size or exponent out of range), an "alg" that does not fit
// the key, and private key members ("d", "p", "q", "dp", "dq", "qi", "oth",
// "k"): a provider publishing secrets is broken, not to be trusted.
#ifndef CLOVER_GATEWAY_JWKS_H_
#define CLOVER_GATEWAY_JWKS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/jwt.h"

namespace clover::gateway {

inline constexpr size_t kMaxJwksBytes = 256 * 1024;
inline constexpr size_t kMaxJwksKeys = 64;
inline constexpr size_t kMaxKidBytes = 256;

// An immutable key set, shared between the cache and requests in flight.
struct JwkSet {
  absl::flat_hash_map<std::string, std::shared_ptr<const JwtPublicKey>> by_kid;
  size_t skipped = 0;  // keys ignored as not for us (see above)
};

// Parses a JWKS document. InvalidArgument as above, the message naming the
// key's index (and kid when it is printable) and the member at fault.
[[nodiscard]] absl::StatusOr<JwkSet> ParseJwks(absl::string_view json);

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_JWKS_H_
