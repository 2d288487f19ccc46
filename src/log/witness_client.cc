#include "log/witness_client.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "core/status_macros.h"
#include "log/checkpoint.h"
#include "spdlog/spdlog.h"

namespace clover::log {
namespace {

// A 409 answer names the witness's size (text/x.tlog.size); a 409 of another
// type is a root conflict at the same size.
bool ParseSizeAnswer(const PostResponse& r, uint64_t* size) {
  if (!absl::StartsWith(r.content_type, "text/x.tlog.size")) return false;
  absl::string_view b = absl::StripTrailingAsciiWhitespace(r.body);
  return !b.empty() && b.size() <= 20 &&
         b.find_first_not_of("0123456789") == absl::string_view::npos &&
         absl::SimpleAtoi(b, size);
}

std::string Body(uint64_t old_size, const std::vector<Hash>& proof,
                 const std::string& note) {
  std::string out = absl::StrCat("old ", old_size, "\n");
  for (const Hash& h : proof) {
    absl::StrAppend(&out,
                    absl::Base64Escape(absl::string_view(
                        reinterpret_cast<const char*>(h.data()), h.size())),
                    "\n");
  }
  absl::StrAppend(&out, "\n", note);
  return out;
}

}  // namespace

absl::StatusOr<size_t> CheckWitnessQuorum(
    absl::string_view note, std::span<const NoteVerifier* const> witnesses,
    size_t quorum) {
  std::vector<const NoteVerifier*> distinct;
  for (const NoteVerifier* w : witnesses) {
    // A log's own (type 0x01) key is no witness: its signature is on every
    // checkpoint.
    if (w->type() != kNoteTypeCosignature) {
      return absl::InvalidArgumentError(absl::StrCat(
          "witness key '", w->name(),
          "' is not a cosignature key (tlog-cosignature, type 0x04)"));
    }
    bool seen = false;
    for (const NoteVerifier* d : distinct)
      seen |= d->name() == w->name() && d->key_id() == w->key_id();
    if (!seen) distinct.push_back(w);
  }
  if (quorum == 0 || quorum > distinct.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("witness quorum ", quorum, " needs between 1 and ",
                     distinct.size(), " distinct witness keys"));
  }
  size_t valid = 0;
  std::vector<std::string> missing;
  for (const NoteVerifier* w : distinct) {
    const NoteVerifier* one[] = {w};
    if (OpenNote(note, one).ok()) {
      ++valid;
    } else {
      missing.push_back(w->name());
    }
  }
  if (valid < quorum) {
    return absl::UnauthenticatedError(absl::StrCat(
        "checkpoint carries valid cosignatures from ", valid, " of the ",
        quorum, " witnesses required (none valid from: ",
        absl::StrJoin(missing, ", "), ")"));
  }
  return valid;
}

CheckpointWitnessing::CheckpointWitnessing(const LogReader& log,
                                           WitnessingOptions options)
    : log_(log), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<CheckpointWitnessing>>
CheckpointWitnessing::Start(const LogReader& log, WitnessingOptions options) {
  if (options.witnesses.empty())
    return absl::InvalidArgumentError("no witnesses configured");
  if (!options.post) options.post = HttpPoster(absl::Seconds(5));
  std::unique_ptr<CheckpointWitnessing> w(
      new CheckpointWitnessing(log, std::move(options)));
  for (const WitnessEndpoint& e : w->options_.witnesses) {
    absl::StatusOr<std::unique_ptr<NoteVerifier>> v =
        ParseVerifierKey(e.verifier_key);
    if (!v.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "witness ", e.url, ": verifier_key: ", v.status().message()));
    }
    if ((*v)->type() != kNoteTypeCosignature) {
      return absl::InvalidArgumentError(
          absl::StrCat("witness ", e.url,
                       ": verifier_key is not a cosignature key (type 0x04)"));
    }
    Witness state;
    state.endpoint = e;
    state.verifier = *std::move(v);
    state.backoff = w->options_.min_backoff;
    w->witnesses_.push_back(std::move(state));
  }
  w->thread_ = std::thread([p = w.get()] { p->Run(); });
  return w;
}

CheckpointWitnessing::~CheckpointWitnessing() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void CheckpointWitnessing::Notify() {
  absl::MutexLock lock(&mu_);
  notified_ = true;
}

bool CheckpointWitnessing::WaitPublished(uint64_t size,
                                         absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto reached = [this, size]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return published_any_ && published_size_ >= size;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

uint64_t CheckpointWitnessing::Size() const {
  absl::MutexLock lock(&mu_);
  return published_any_ ? published_size_ : 0;
}

std::string CheckpointWitnessing::SignedCheckpoint() const {
  {
    absl::MutexLock lock(&mu_);
    if (published_any_) return published_;
  }
  // Before the first round ends: the log's own, without cosignatures.
  return log_.SignedCheckpoint();
}

void CheckpointWitnessing::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || notified_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&woken), options_.poll_interval);
      if (stop_) return;
      notified_ = false;
    }
    Round();
  }
}

void CheckpointWitnessing::Round() {
  const std::string note = log_.SignedCheckpoint();
  absl::StatusOr<ParsedNote> parsed = ParseNote(note);
  if (!parsed.ok()) return;
  absl::StatusOr<Checkpoint> cp = ParseCheckpoint(parsed->text);
  if (!cp.ok()) return;
  {
    absl::MutexLock lock(&mu_);
    if (published_any_ && published_size_ >= cp->size) return;
  }
  std::vector<NoteSignature> cosignatures;
  const absl::Time now = absl::Now();
  for (Witness& w : witnesses_) {
    if (now < w.retry_at) continue;
    absl::StatusOr<std::vector<NoteSignature>> got = Push(w, note, cp->size);
    if (got.ok()) {
      if (w.failing)
        spdlog::info("witness {}: cosigning again", w.endpoint.url);
      w.failing = false;
      w.backoff = options_.min_backoff;
      w.retry_at = absl::InfinitePast();
      for (NoteSignature& s : *got) cosignatures.push_back(std::move(s));
      continue;
    }
    if (!w.failing) {
      spdlog::warn("witness {}: {} (retrying with backoff)", w.endpoint.url,
                   std::string(got.status().message()));
    }
    w.failing = true;
    w.size_known = false;  // ask again next time
    w.retry_at = now + w.backoff;
    w.backoff = std::min(w.backoff * 2, options_.max_backoff);
  }
  absl::StatusOr<std::string> published = AddNoteSignatures(note, cosignatures);
  absl::MutexLock lock(&mu_);
  published_ = published.ok() ? *std::move(published) : note;
  published_size_ = cp->size;
  published_any_ = true;
}

WitnessAnswer ReadWitnessAnswer(const PostResponse& answer,
                                absl::string_view note,
                                const NoteVerifier& witness) {
  WitnessAnswer out;
  if (answer.status == 200) {
    // Only lines that verify with this witness's key are kept.
    const NoteVerifier* vs[] = {&witness};
    absl::StatusOr<OpenedNote> opened =
        OpenNote(absl::StrCat(note, answer.body), vs);
    if (opened.ok() && !opened->verified.empty()) {
      out.kind = WitnessAnswer::Kind::kCosigned;
      out.cosignatures = std::move(opened->verified);
      return out;
    }
    out.detail = "answered without a valid cosignature by its key";
    return out;
  }
  if (answer.status == 409) {
    out.kind = ParseSizeAnswer(answer, &out.size)
                   ? WitnessAnswer::Kind::kSize
                   : WitnessAnswer::Kind::kRootConflict;
    return out;
  }
  // The witness's words go to our log: printable ASCII only, bounded.
  std::string body;
  for (char c : answer.body.substr(0, 200))
    body.push_back(c >= 0x20 && c < 0x7f ? c : ' ');
  out.detail = absl::StrCat("HTTP ", answer.status, ": ",
                            absl::StripTrailingAsciiWhitespace(body));
  if (out.detail.size() > 200) out.detail.resize(200);
  return out;
}

absl::StatusOr<std::vector<NoteSignature>> CheckpointWitnessing::Push(
    Witness& w, const std::string& note, uint64_t size) {
  const std::string url = absl::StrCat(
      std::string(absl::StripSuffix(w.endpoint.url, "/")), "/add-checkpoint");
  uint64_t old_size = w.size_known ? w.size : 0;
  // At most one correction of the old size per round: a witness whose size
  // keeps changing under us is tried again next round.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (old_size > size) {
      return absl::FailedPreconditionError(
          absl::StrCat("holds a larger tree (size ", old_size,
                       ") than this log's checkpoint (size ", size, ")"));
    }
    std::vector<Hash> proof;
    if (old_size > 0 && old_size < size) {
      CLOVER_ASSIGN_OR_RETURN(proof, log_.ConsistencyProof(old_size, size));
    }
    CLOVER_ASSIGN_OR_RETURN(PostResponse r,
                            options_.post(url, "text/plain; charset=utf-8",
                                          Body(old_size, proof, note)));
    WitnessAnswer a = ReadWitnessAnswer(r, note, *w.verifier);
    switch (a.kind) {
      case WitnessAnswer::Kind::kCosigned:
        w.size_known = true;
        w.size = size;
        return std::move(a.cosignatures);
      case WitnessAnswer::Kind::kSize:
        w.size_known = true;
        w.size = a.size;
        old_size = a.size;
        continue;
      case WitnessAnswer::Kind::kRootConflict:
        spdlog::error(
            "witness {} holds another tree of size {} than this log's: a "
            "split view of this log, or a witness in error",
            w.endpoint.url, size);
        return absl::AbortedError("it holds another root at this size");
      case WitnessAnswer::Kind::kRefused:
        return absl::UnavailableError(a.detail);
    }
  }
  return absl::UnavailableError("its size kept changing");
}

}  // namespace clover::log
