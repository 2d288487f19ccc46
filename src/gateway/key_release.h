// Internal to the gateway: wires `keys.release` (external key release,
// docs/vault.md) into a node's vault — the release layer over the KEK
// (release/released_kek.h), the subject cache bounded by the release cache
// settings, and what a failed release does on the node: an error line (the
// incident the operator sees) and, when the partner refused, a flush of every
// cached data key, so that a cut-off takes effect at the first refusal rather
// than only when the cache's entries expire.
#ifndef CLOVER_GATEWAY_KEY_RELEASE_H_
#define CLOVER_GATEWAY_KEY_RELEASE_H_

#include <atomic>
#include <memory>

#include "absl/status/status.h"
#include "config/deployment.h"
#include "vault/vault.h"

namespace clover::gateway {

// The vault the release layer flushes; set once the vault is open.
using VaultSlot = std::shared_ptr<std::atomic<vault::Vault*>>;

// With deployment.keys.release set: adds the release layer to `options` and
// caps its subject cache (entries and TTL) by the release cache settings.
// Without it: does nothing. Errors: those of the pseudonym key file.
[[nodiscard]] absl::Status ConfigureKeyRelease(const Deployment& deployment,
                                               vault::VaultOptions& options,
                                               const VaultSlot& slot);

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_KEY_RELEASE_H_
