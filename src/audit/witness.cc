#include "audit/witness.h"

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/logger.h"
#include "core/status_macros.h"
#include "log/merkle.h"

namespace clover::audit {
namespace {

constexpr absl::string_view kStatePrefix = "witness/";
constexpr int kMaxProofLines = 63;

Witness::Response Reply(int status, std::string body) {
  Witness::Response r;
  r.status = status;
  r.body = std::move(body);
  if (r.body.empty() || r.body.back() != '\n') r.body += '\n';
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Witness>> Witness::Open(
    kv::KvStore* kv, absl::string_view cosigner_key,
    std::vector<WitnessedLog> logs, std::function<void(Finding)> on_finding,
    const Clock& clock) {
  absl::StatusOr<std::unique_ptr<log::NoteSigner>> signer =
      log::ParseSignerKey(cosigner_key, clock);
  if (!signer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("witness key: ", signer.status().message()));
  }
  CLOVER_ASSIGN_OR_RETURN(std::string vkey,
                          log::VerifierKeyFromSignerKey(cosigner_key));
  std::unique_ptr<Witness> w(
      new Witness(kv, *std::move(signer), std::move(on_finding), clock));
  w->verifier_key_ = std::move(vkey);
  absl::MutexLock lock(&w->mu_);
  for (WitnessedLog& l : logs) {
    if (w->logs_.contains(l.origin)) {
      return absl::InvalidArgumentError(
          absl::StrCat("log '", l.origin, "' listed twice"));
    }
    LogState& st = w->logs_[l.origin];
    for (const std::string& k : l.verifier_keys) {
      absl::StatusOr<std::unique_ptr<log::NoteVerifier>> v =
          log::ParseVerifierKey(k);
      if (!v.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "log '", l.origin, "': verifier key: ", v.status().message()));
      }
      st.verifiers.push_back(*std::move(v));
    }
    if (st.verifiers.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("log '", l.origin, "': no verifier key"));
    }
    absl::StatusOr<std::string> saved =
        kv->Get(absl::StrCat(kStatePrefix, l.origin));
    if (saved.ok()) {
      std::vector<const log::NoteVerifier*> vs;
      for (const auto& v : st.verifiers) vs.push_back(v.get());
      absl::StatusOr<log::Checkpoint> cp =
          log::OpenCheckpoint(*saved, l.origin, vs);
      if (!cp.ok()) {
        return absl::DataLossError(absl::StrCat("stored witness state for '",
                                                l.origin,
                                                "': ", cp.status().message()));
      }
      st.latest = Latest{*std::move(cp), *std::move(saved)};
    } else if (!absl::IsNotFound(saved.status())) {
      return saved.status();
    }
  }
  return w;
}

std::vector<const log::NoteVerifier*> Witness::VerifiersFor(
    absl::string_view origin) const {
  absl::MutexLock lock(&mu_);
  std::vector<const log::NoteVerifier*> out;
  auto it = logs_.find(origin);
  if (it != logs_.end()) {
    for (const auto& v : it->second.verifiers) out.push_back(v.get());
  }
  return out;
}

std::optional<Witness::Latest> Witness::LatestFor(
    absl::string_view origin) const {
  absl::MutexLock lock(&mu_);
  auto it = logs_.find(origin);
  if (it == logs_.end()) return std::nullopt;
  return it->second.latest;
}

void Witness::Report(const std::string& origin, std::string key,
                     std::string summary, std::vector<std::string> notes) {
  if (!on_finding_) return;
  Finding f;
  f.detector = std::string(kDetectorSplitView);
  f.severity = Severity::kCritical;
  f.key = absl::StrCat(kDetectorSplitView, "/", origin, "/", key);
  f.summary = std::move(summary);
  f.time = clock_.Now();
  f.origin = origin;
  Evidence e;
  e.origin = origin;
  e.checkpoints = std::move(notes);
  e.note =
      "checkpoints signed by the log that no single append-only tree can "
      "explain";
  f.evidence.push_back(std::move(e));
  on_finding_(std::move(f));
}

absl::StatusOr<std::string> Witness::CommitLocked(const std::string& origin,
                                                  LogState& st,
                                                  absl::string_view note,
                                                  const log::Checkpoint& cp,
                                                  std::string* sig_line) {
  CLOVER_ASSIGN_OR_RETURN(log::ParsedNote parsed, log::ParseNote(note));
  CLOVER_ASSIGN_OR_RETURN(std::string sig, cosigner_->Sign(parsed.text));
  log::NoteSignature ns{cosigner_->name(), cosigner_->key_id(), std::move(sig)};
  *sig_line = ns.Line();
  // Kept: the log's signatures (verified by the caller) and ours. Other lines
  // (earlier cosignatures, lines a requester made up) are dropped, so the
  // stored note stays within the signature limit and reopens after a restart.
  std::string cosigned = parsed.text + "\n";
  for (const log::NoteSignature& s : parsed.signatures) {
    for (const auto& v : st.verifiers) {
      if (s.name == v->name() && s.key_id == v->key_id()) {
        cosigned += s.Line();
        break;
      }
    }
  }
  cosigned += ns.Line();
  CLOVER_RETURN_IF_ERROR(
      kv_->Put(absl::StrCat(kStatePrefix, origin), cosigned));
  st.latest = Latest{cp, cosigned};
  return cosigned;
}

Witness::Response Witness::HandleAddCheckpoint(absl::string_view body) {
  if (body.size() > log::kMaxNoteSize + 64 * 64)
    return Reply(400, "request too large");
  absl::string_view rest = body;
  size_t nl = rest.find('\n');
  if (nl == absl::string_view::npos) return Reply(400, "missing old size line");
  absl::string_view old_line = rest.substr(0, nl);
  rest.remove_prefix(nl + 1);
  uint64_t old_size = 0;
  if (old_line.substr(0, 4) != "old " || old_line.size() == 4 ||
      old_line.substr(4).find_first_not_of("0123456789") !=
          absl::string_view::npos ||
      (old_line.size() > 5 && old_line[4] == '0') ||
      !absl::SimpleAtoi(old_line.substr(4), &old_size)) {
    return Reply(400, "malformed old size line");
  }
  std::vector<log::Hash> proof;
  while (true) {
    nl = rest.find('\n');
    if (nl == absl::string_view::npos)
      return Reply(400, "missing blank line before checkpoint");
    absl::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    if (line.empty()) break;
    if (proof.size() >= kMaxProofLines)
      return Reply(400, "too many consistency proof lines");
    std::string raw;
    if (!absl::Base64Unescape(line, &raw) || raw.size() != log::kHashSize) {
      return Reply(400, "malformed consistency proof line");
    }
    log::Hash h;
    std::memcpy(h.data(), raw.data(), h.size());
    proof.push_back(h);
  }
  const absl::string_view note = rest;
  const absl::string_view origin = note.substr(0, note.find('\n'));

  absl::MutexLock lock(&mu_);
  auto it = logs_.find(origin);
  if (it == logs_.end()) return Reply(404, "unknown log origin");
  LogState& st = it->second;
  const std::string origin_str(origin);
  std::vector<const log::NoteVerifier*> vs;
  for (const auto& v : st.verifiers) vs.push_back(v.get());
  absl::StatusOr<log::Checkpoint> cp = log::OpenCheckpoint(note, origin, vs);
  if (!cp.ok()) {
    return Reply(absl::IsUnauthenticated(cp.status()) ? 403 : 400,
                 std::string(cp.status().message()));
  }
  if (old_size > cp->size)
    return Reply(400, "old size is larger than the checkpoint size");
  const uint64_t latest_size = st.latest ? st.latest->checkpoint.size : 0;
  if (old_size != latest_size) {
    Response r = Reply(409, absl::StrCat(latest_size));
    r.content_type = "text/x.tlog.size";
    return r;
  }
  if (old_size == 0 && !proof.empty())
    return Reply(400, "proof must be empty from size 0");
  if (st.latest && old_size == cp->size) {
    if (st.latest->checkpoint.root != cp->root) {
      Report(origin_str, absl::StrCat("fork@", cp->size),
             absl::StrCat("log '", origin,
                          "' signed two different trees of size ", cp->size),
             {st.latest->note, std::string(note)});
      return Reply(
          409,
          "root hash differs from the cosigned checkpoint of the same size");
    }
  } else if (st.latest) {
    absl::Status c = log::VerifyConsistency(
        old_size, cp->size, st.latest->checkpoint.root, cp->root, proof);
    if (!c.ok()) {
      // The proof is the requester's, not signed by the log: anyone who can
      // reach this endpoint can send a wrong one, so it is the request's
      // fault (tlog-witness: 422), never evidence against the log. Only two
      // signed checkpoints are (same size, another root: above).
      logging::Info(
          "witness: refused a checkpoint: its consistency proof does not "
          "verify",
          {{"origin", origin_str}, {"size", cp->size}, {"from", old_size}});
      return Reply(422, "consistency proof does not verify");
    }
  }
  std::string sig_line;
  absl::StatusOr<std::string> cosigned =
      CommitLocked(origin_str, st, note, *cp, &sig_line);
  if (!cosigned.ok()) return Reply(500, "witness could not persist its state");
  Response r;
  r.body = std::move(sig_line);
  return r;
}

absl::StatusOr<std::string> Witness::Advance(
    const std::string& origin, absl::string_view note,
    const log::Checkpoint& checkpoint,
    const std::function<absl::StatusOr<std::vector<log::Hash>>(uint64_t from)>&
        prove) {
  absl::MutexLock lock(&mu_);
  auto it = logs_.find(origin);
  if (it == logs_.end())
    return absl::NotFoundError(absl::StrCat("unknown log '", origin, "'"));
  LogState& st = it->second;
  if (st.latest) {
    const log::Checkpoint& prev = st.latest->checkpoint;
    if (prev.size > checkpoint.size) {
      return absl::FailedPreconditionError(
          "witness already holds a larger checkpoint");
    }
    if (prev.size == checkpoint.size) {
      if (prev.root != checkpoint.root) {
        Report(origin, absl::StrCat("fork@", checkpoint.size),
               absl::StrCat("log '", origin,
                            "' signed two different trees of size ",
                            checkpoint.size),
               {st.latest->note, std::string(note)});
        return absl::DataLossError("two roots for one tree size");
      }
      return st.latest->note;
    }
    CLOVER_ASSIGN_OR_RETURN(std::vector<log::Hash> proof, prove(prev.size));
    absl::Status c = log::VerifyConsistency(prev.size, checkpoint.size,
                                            prev.root, checkpoint.root, proof);
    if (!c.ok()) {
      Report(origin,
             absl::StrCat("inconsistent@", prev.size, "-", checkpoint.size),
             absl::StrCat("log '", origin, "' tree of size ", checkpoint.size,
                          " does not extend the cosigned tree of size ",
                          prev.size),
             {st.latest->note, std::string(note)});
      return absl::DataLossError(
          "checkpoint inconsistent with the cosigned one");
    }
  }
  std::string sig_line;
  return CommitLocked(origin, st, note, checkpoint, &sig_line);
}

}  // namespace clover::audit
