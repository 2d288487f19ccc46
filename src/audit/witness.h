// A C2SP tlog-witness: for each configured log (origin + verifier keys) it
// keeps the latest checkpoint it cosigned, persisted before it answers, and
// cosigns only consistent extensions of it with a C2SP tlog-cosignature (note
// key type 0x04, timestamped).
//
// Checkpoints reach it two ways: `POST /add-checkpoint` from the log
// (HandleAddCheckpoint, with the consistency proof the log provides) and the
// auditor's own follower (Advance, after it re-hashed every entry itself).
// Evidence of misbehaviour seen on the way (a consistency proof that does not
// verify, two different roots for one size) is reported through `on_finding`.
//
// Thread-safe: one mutex serialises the check-and-persist, as the spec
// requires.
#ifndef CLOVER_AUDIT_WITNESS_H_
#define CLOVER_AUDIT_WITNESS_H_

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "audit/incident.h"
#include "core/clock.h"
#include "kv/kv_store.h"
#include "log/checkpoint.h"
#include "log/note.h"

namespace clover::audit {

struct WitnessedLog {
  std::string origin;
  std::vector<std::string> verifier_keys;  // note verifier key strings
};

class Witness {
 public:
  // `cosigner_key` is a note signer key string (PRIVATE+KEY+...) of type 0x04
  // (tlog-cosignature). Errors: InvalidArgument for a malformed or wrong-type
  // key (never echoed), a malformed verifier key (naming the origin) or a
  // duplicate origin; Internal/DataLoss loading state.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Witness>> Open(
      kv::KvStore* kv, absl::string_view cosigner_key,
      std::vector<WitnessedLog> logs,
      std::function<void(Finding)> on_finding = nullptr,
      const Clock& clock = SystemClock());

  struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
  };
  // The tlog-witness add-checkpoint call: 200 with cosignature lines, 400
  // malformed, 403 no trusted signature, 404 unknown origin, 409 old size
  // mismatch (body: "<size>\n", text/x.tlog.size) or same size with another
  // root, 422 bad consistency proof.
  [[nodiscard]] Response HandleAddCheckpoint(absl::string_view body);

  // For the follower: advances to `note` (already verified by the caller, whose
  // tree has `checkpoint.size` leaves) given a consistency proof from the
  // stored size, produced by `prove(from)`. Returns the note with this
  // witness's cosignature added. Errors: FailedPrecondition if the stored
  // checkpoint is larger (nothing to do; the caller checks the stored one
  // against its own tree instead); DataLoss if inconsistent.
  [[nodiscard]] absl::StatusOr<std::string> Advance(
      const std::string& origin, absl::string_view note,
      const log::Checkpoint& checkpoint,
      const std::function<
          absl::StatusOr<std::vector<log::Hash>>(uint64_t from)>& prove);

  struct Latest {
    log::Checkpoint checkpoint;
    std::string note;  // as cosigned (with our signature line)
  };
  [[nodiscard]] std::optional<Latest> LatestFor(absl::string_view origin) const;

  // The verifiers of `origin` (owned by the witness), empty if unknown.
  [[nodiscard]] std::vector<const log::NoteVerifier*> VerifiersFor(
      absl::string_view origin) const;
  const log::NoteSigner& cosigner() const { return *cosigner_; }
  // The verifier key string of this witness's cosignature key.
  const std::string& verifier_key() const { return verifier_key_; }

 private:
  struct LogState {
    std::vector<std::unique_ptr<log::NoteVerifier>> verifiers;
    std::optional<Latest> latest;
  };
  Witness(kv::KvStore* kv, std::unique_ptr<log::NoteSigner> cosigner,
          std::function<void(Finding)> on_finding, const Clock& clock)
      : kv_(kv),
        cosigner_(std::move(cosigner)),
        on_finding_(std::move(on_finding)),
        clock_(clock) {}
  // Cosigns, persists and records `note` as the latest for `origin`.
  absl::StatusOr<std::string> CommitLocked(const std::string& origin,
                                           LogState& st, absl::string_view note,
                                           const log::Checkpoint& cp,
                                           std::string* sig_line)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Report(const std::string& origin, std::string key, std::string summary,
              std::vector<std::string> notes);

  kv::KvStore* const kv_;
  std::unique_ptr<log::NoteSigner> cosigner_;
  std::string verifier_key_;
  std::function<void(Finding)> on_finding_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, LogState> logs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_WITNESS_H_
