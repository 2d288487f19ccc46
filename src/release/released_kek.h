// The node's side of external key release: a KeyEncryptionKey layer over the
// node's own KEK (file, ring or token) that seals every KEK output to the
// region's release public key (release/release_key.h), so that unwrapping a
// data key needs the partner's key-release service (release_service.h) as
// well as the KEK. Plugged in with VaultOptions::kek_layer; the vault's
// subject cache is the bounded cache of released keys (keys.release.
// cache_ttl_s / cache_entries).
//
// Wrap is local (the public key suffices). Unwrap of a release-sealed key
// sends the sealed key and the justification (principal, purpose, code, the
// decision's log index, the subject's log pseudonym) to the service, within
// `timeout`, and unwraps what it returns with the inner KEK. A key stored
// before release was configured (it starts with the KEK's own id) is
// unwrapped by the inner KEK alone until `clover keys rewrap` moves it under
// the release layer.
//
// Errors of Unwrap besides the inner KEK's: release::KeyReleaseError with
// kKeyReleaseRefused (PermissionDenied: policy refusal, region cut off, node
// not allowed) or kKeyReleaseUnavailable (Unavailable: unreachable, timed
// out, or any other answer). Both fail closed: no key, nothing decrypted.
//
// Thread-safety: thread-safe (one HTTP connection per calling thread; the
// status poll runs on a thread of its own, joined on destruction).
#ifndef CLOVER_RELEASE_RELEASED_KEK_H_
#define CLOVER_RELEASE_RELEASED_KEK_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vault/key_encryption_key.h"

namespace clover::release {

struct ReleaseClientOptions {
  std::string url;  // the service, e.g. https://127.0.0.1:8443 (no path)
  std::string region;
  // Sent with every request: this node's id and its decision log's origin,
  // which the decision index refers to (empty: not sent).
  std::string node;
  std::string decision_log;
  std::string ca_file;    // CAs that verify the service's certificate
  std::string cert_file;  // the node's client certificate (mTLS)
  std::string key_file;   // its private key
  // The region's release public key (32 raw bytes). Empty: asked of the
  // service at creation (GET /v1/regions/{region}, over the verified TLS).
  std::string public_key;
  absl::Duration timeout = absl::Seconds(2);  // per release request
  // If positive (and on_failure is set): a thread asks the service for the
  // region's state this often and, while it is cut off, calls on_failure
  // with a refusal — so a cut-off reaches a node whose reads all hit its
  // cache within this interval, not only at the next miss or the TTL.
  absl::Duration status_poll = absl::ZeroDuration();
  // The subject's pseudonym as the node's decision log names it (the service
  // never learns subject ids). Null: "" is sent.
  std::function<std::string(absl::string_view subject)> subject_label;
  // Called (on the unwrapping thread) after each refused or failed release,
  // with the error: the node flushes its key cache and raises an incident.
  std::function<void(const absl::Status&)> on_failure;
};

// Errors: InvalidArgument for missing options or a bad public key;
// KeyReleaseError(unavailable) when the public key must be fetched and the
// service does not answer.
[[nodiscard]] absl::StatusOr<std::unique_ptr<vault::KeyEncryptionKey>>
NewReleasedKek(std::unique_ptr<vault::KeyEncryptionKey> inner,
               ReleaseClientOptions options);

}  // namespace clover::release

#endif  // CLOVER_RELEASE_RELEASED_KEK_H_
