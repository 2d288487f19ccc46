#include "audit/follower.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "audit/tlog_proof.h"
#include "core/status_macros.h"
#include "crypto/sha256.h"
#include "log/tile.h"

namespace clover::audit {
namespace {

std::string StateKey(absl::string_view origin) {
  return absl::StrCat("follow/", origin, "/state");
}
std::string LeavesPrefix(absl::string_view origin) {
  return absl::StrCat("follow/", origin, "/leaves/");
}

std::string HexSha256(absl::string_view data) {
  crypto::Sha256Digest d = crypto::Sha256(
      reinterpret_cast<const uint8_t*>(data.data()), data.size());
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

std::string ResourcePath(bool entries, uint64_t tile, uint64_t tree_size) {
  log::TilePath p;
  p.entries = entries;
  p.level = 0;
  p.index = tile;
  const uint64_t end =
      std::min<uint64_t>((tile + 1) * log::kTileWidth, tree_size);
  p.width = static_cast<int>(end - tile * log::kTileWidth);
  return log::FormatTilePath(p);
}

}  // namespace

absl::StatusOr<std::unique_ptr<LogFollower>> LogFollower::Open(
    FollowedLog log, FetchFn fetch, kv::KvStore* kv, Witness* witness,
    const Clock& clock) {
  std::unique_ptr<LogFollower> f(
      new LogFollower(std::move(log), std::move(fetch), kv, witness, clock));
  for (const std::string& k : f->log_.verifier_keys) {
    absl::StatusOr<std::unique_ptr<log::NoteVerifier>> v =
        log::ParseVerifierKey(k);
    if (!v.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "log '", f->log_.origin, "': verifier key: ", v.status().message()));
    }
    f->verifiers_.push_back(*std::move(v));
  }
  if (f->verifiers_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("log '", f->log_.origin, "': no verifier key"));
  }
  f->checkpoint_ = log::Checkpoint{f->log_.origin, 0, log::EmptyRootHash(), {}};
  absl::StatusOr<std::string> state = kv->Get(StateKey(f->log_.origin));
  if (!state.ok()) {
    if (absl::IsNotFound(state.status())) return f;
    return state.status();
  }
  auto vs = f->verifiers();
  absl::StatusOr<log::Checkpoint> cp =
      log::OpenCheckpoint(*state, f->log_.origin, vs);
  if (!cp.ok()) {
    return absl::DataLossError(absl::StrCat("stored checkpoint of '",
                                            f->log_.origin,
                                            "': ", cp.status().message()));
  }
  absl::Status bad;
  CLOVER_RETURN_IF_ERROR(
      kv->Scan(LeavesPrefix(f->log_.origin),
               [&](absl::string_view, absl::string_view v) {
                 if (v.size() % log::kHashSize != 0) {
                   bad = absl::DataLossError("corrupt stored leaf hashes");
                   return false;
                 }
                 for (size_t o = 0; o < v.size(); o += log::kHashSize) {
                   if (f->tree_.size() == cp->size) break;
                   log::Hash h;
                   std::memcpy(h.data(), v.data() + o, h.size());
                   f->tree_.Append(h);
                 }
                 return true;
               }));
  CLOVER_RETURN_IF_ERROR(bad);
  absl::StatusOr<log::Hash> root = f->tree_.Root(cp->size);
  if (!root.ok() || *root != cp->root) {
    return absl::DataLossError(
        absl::StrCat("stored leaf hashes of '", f->log_.origin,
                     "' do not match the stored checkpoint"));
  }
  f->checkpoint_ = *std::move(cp);
  f->note_ = *std::move(state);
  {
    absl::MutexLock lock(&f->lag_mu_);
    f->lag_.verified_size = f->lag_.seen_size = f->checkpoint_.size;
  }
  return f;
}

std::vector<const log::NoteVerifier*> LogFollower::verifiers() const {
  std::vector<const log::NoteVerifier*> out;
  for (const auto& v : verifiers_) out.push_back(v.get());
  return out;
}

Finding LogFollower::MakeFinding(absl::string_view detector, std::string key,
                                 std::string summary) const {
  Finding f;
  f.detector = std::string(detector);
  f.severity = Severity::kCritical;
  f.key = absl::StrCat(detector, "/", log_.origin, "/", key);
  f.summary = std::move(summary);
  f.time = clock_.Now();
  f.origin = log_.origin;
  return f;
}

absl::StatusOr<LogFollower::PollResult> LogFollower::Poll(
    const EntryFn& on_entry) {
  CLOVER_ASSIGN_OR_RETURN(std::string note, fetch_("checkpoint"));
  return Ingest(note, on_entry);
}

absl::Status LogFollower::FetchEntries(uint64_t from, uint64_t to,
                                       std::vector<std::string>* entries,
                                       std::vector<Finding>* findings,
                                       const std::string& note, bool* ok) {
  *ok = true;
  log::MerkleHasher hasher;
  for (uint64_t tile = from / log::kTileWidth; tile * log::kTileWidth < to;
       ++tile) {
    const std::string path = ResourcePath(true, tile, to);
    CLOVER_ASSIGN_OR_RETURN(std::string bundle, fetch_(path));
    CLOVER_ASSIGN_OR_RETURN(std::vector<absl::string_view> items,
                            log::ParseEntryBundle(bundle));
    const uint64_t base = tile * log::kTileWidth;
    const uint64_t width = std::min<uint64_t>(log::kTileWidth, to - base);
    if (items.size() != width) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": holds ", items.size(), " entries, expected ", width));
    }
    for (uint64_t i = 0; i < width; ++i) {
      const uint64_t index = base + i;
      if (index < from) {
        // Re-fetched part of a bundle already verified: it must not have
        // changed.
        if (index < tree_.size() &&
            hasher.Leaf(items[i]) != tree_.leaf(index)) {
          Finding f = MakeFinding(
              kDetectorTamperedBundle, absl::StrCat("rewrite@", index),
              absl::StrCat("log '", log_.origin, "' now serves entry ", index,
                           " with different content than verified"));
          Evidence e;
          e.origin = log_.origin;
          e.index = index;
          e.entry_sha256 = HexSha256(items[i]);
          e.checkpoints = {note_, note};
          e.note =
              "served entry differs from the verified one (its proof is "
              "against the "
              "verified checkpoint)";
          absl::StatusOr<std::string> proof = ProofFor(index);
          if (proof.ok()) e.proof = *proof;
          f.evidence.push_back(std::move(e));
          findings->push_back(std::move(f));
          *ok = false;
          return absl::OkStatus();  // one finding per poll is enough evidence
        }
        continue;
      }
      entries->emplace_back(items[i]);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<LogFollower::PollResult> LogFollower::Ingest(
    absl::string_view note_view, const EntryFn& on_entry) {
  PollResult result;
  const std::string note(note_view);
  auto vs = verifiers();
  CLOVER_ASSIGN_OR_RETURN(log::Checkpoint cp,
                          log::OpenCheckpoint(note, log_.origin, vs));
  NoteSeen(cp.size);
  const uint64_t m = checkpoint_.size;
  if (cp.size < m) {
    Finding f =
        MakeFinding(kDetectorSplitView, absl::StrCat("shrink@", cp.size),
                    absl::StrCat("log '", log_.origin, "' tree shrank from ", m,
                                 " to ", cp.size, " entries"));
    Evidence e;
    e.origin = log_.origin;
    e.checkpoints = {note_, note};
    e.note =
        "both checkpoints carry valid log signatures; an append-only log never "
        "shrinks";
    f.evidence.push_back(std::move(e));
    result.findings.push_back(std::move(f));
    return result;
  }
  if (cp.size == m) {
    if (cp.root != checkpoint_.root) {
      Finding f = MakeFinding(
          kDetectorSplitView, absl::StrCat("fork@", cp.size),
          absl::StrCat("log '", log_.origin,
                       "' signed two different trees of size ", cp.size));
      Evidence e;
      e.origin = log_.origin;
      e.checkpoints = {note_, note};
      e.note = "two log-signed checkpoints with one size and different roots";
      f.evidence.push_back(std::move(e));
      result.findings.push_back(std::move(f));
    } else {
      NoteVerified(m);
    }
    return result;
  }

  std::vector<std::string> entries;
  entries.reserve(cp.size - m);
  bool ok = true;
  CLOVER_RETURN_IF_ERROR(
      FetchEntries(m, cp.size, &entries, &result.findings, note, &ok));
  if (!ok) return result;
  log::MerkleHasher hasher;
  std::vector<log::Hash> new_leaves;
  new_leaves.reserve(entries.size());
  for (const std::string& e : entries) {
    new_leaves.push_back(hasher.Leaf(e));
    tree_.Append(new_leaves.back());
  }
  absl::StatusOr<log::Hash> root = tree_.Root(cp.size);
  if (!root.ok() || *root != cp.root) {
    tree_.Truncate(m);
    // Tell tampering (bundles that disagree with the log's own hash tiles) from
    // a fork (bundles that agree with the tiles, so the log's tree is not the
    // history we hold).
    std::optional<uint64_t> bad_index;
    bool tiles_read = true;
    for (uint64_t tile = m / log::kTileWidth;
         tile * log::kTileWidth < cp.size && !bad_index; ++tile) {
      absl::StatusOr<std::string> t =
          fetch_(ResourcePath(false, tile, cp.size));
      const uint64_t base = tile * log::kTileWidth;
      const uint64_t width =
          std::min<uint64_t>(log::kTileWidth, cp.size - base);
      if (!t.ok() || t->size() != width * log::kHashSize) {
        tiles_read = false;
        break;
      }
      for (uint64_t i = std::max(base, m) - base; i < width; ++i) {
        if (std::memcmp(t->data() + i * log::kHashSize,
                        new_leaves[base + i - m].data(), log::kHashSize) != 0) {
          bad_index = base + i;
          break;
        }
      }
    }
    if (bad_index || !tiles_read) {
      const uint64_t idx = bad_index.value_or(m);
      Finding f = MakeFinding(
          kDetectorTamperedBundle,
          absl::StrCat("bundle@", idx / log::kTileWidth),
          bad_index ? absl::StrCat("log '", log_.origin,
                                   "' entry bundle holds an entry at ", idx,
                                   " that does not match the log's hash tile")
                    : absl::StrCat("log '", log_.origin, "' entries ", m, "..",
                                   cp.size, " do not hash to the signed root"));
      Evidence e;
      e.origin = log_.origin;
      e.index = idx;
      e.entry_sha256 = HexSha256(entries[idx - m]);
      e.checkpoints = {note};
      e.note =
          "RFC 6962 leaf hash of the served entry differs from the signed tree";
      f.evidence.push_back(std::move(e));
      result.findings.push_back(std::move(f));
    } else {
      Finding f = MakeFinding(
          kDetectorSplitView, absl::StrCat("inconsistent@", m, "-", cp.size),
          absl::StrCat("log '", log_.origin, "' tree of size ", cp.size,
                       " does not extend the verified tree of size ", m));
      Evidence e;
      e.origin = log_.origin;
      e.checkpoints = {note_, note};
      e.note =
          "the new entries match the log's tiles, but the signed root is not "
          "the "
          "extension of the verified history";
      f.evidence.push_back(std::move(e));
      result.findings.push_back(std::move(f));
    }
    return result;
  }

  // Verified. Cosign as a witness (its consistency proof comes from our own
  // tree).
  std::string cosigned = note;
  if (witness_ != nullptr) {
    absl::StatusOr<std::string> w =
        witness_->Advance(log_.origin, note, cp, [this, &cp](uint64_t from) {
          return tree_.ConsistencyProof(from, cp.size);
        });
    if (w.ok()) {
      cosigned = *std::move(w);
    } else if (absl::IsFailedPrecondition(w.status())) {
      // The witness already cosigned a larger checkpoint pushed by the log;
      // check it against our history once we reach it (below, on a later poll).
    }
  }
  kv::KvBatch batch;
  if (absl::Status s = on_entry(m, entries, batch); !s.ok()) {
    tree_.Truncate(m);
    return s;
  }
  // Leaf hashes, one record per 256-entry tile (rewritten while it is partial).
  for (uint64_t tile = m / log::kTileWidth; tile * log::kTileWidth < cp.size;
       ++tile) {
    const uint64_t base = tile * log::kTileWidth;
    const uint64_t end = std::min<uint64_t>(base + log::kTileWidth, cp.size);
    std::string v;
    v.reserve((end - base) * log::kHashSize);
    for (uint64_t i = base; i < end; ++i) {
      v.append(reinterpret_cast<const char*>(tree_.leaf(i).data()),
               log::kHashSize);
    }
    batch.Put(absl::StrCat(LeavesPrefix(log_.origin), kv::EncodeKeyU64(tile)),
              v);
  }
  batch.Put(StateKey(log_.origin), cosigned);
  // History of verified checkpoints, for reports.
  batch.Put(absl::StrCat("ckpt/", log_.origin, "/", kv::EncodeKeyU64(cp.size)),
            cosigned);
  absl::Status s = kv_->Write(batch);
  if (!s.ok()) {
    tree_.Truncate(m);
    return s;
  }
  checkpoint_ = cp;
  note_ = std::move(cosigned);
  NoteVerified(cp.size);
  result.new_entries = entries.size();
  result.grew = true;

  // A checkpoint the witness cosigned on the log's request must be one of ours.
  if (witness_ != nullptr) {
    std::optional<Witness::Latest> latest = witness_->LatestFor(log_.origin);
    if (latest && latest->checkpoint.size <= tree_.size()) {
      absl::StatusOr<log::Hash> r = tree_.Root(latest->checkpoint.size);
      if (r.ok() && *r != latest->checkpoint.root) {
        Finding f =
            MakeFinding(kDetectorSplitView,
                        absl::StrCat("witnessed@", latest->checkpoint.size),
                        absl::StrCat("log '", log_.origin,
                                     "' showed the witness a tree of size ",
                                     latest->checkpoint.size,
                                     " that differs from the one it serves"));
        Evidence e;
        e.origin = log_.origin;
        e.checkpoints = {latest->note, note_};
        e.note =
            "the cosigned checkpoint is not a prefix of the served, verified "
            "tree";
        f.evidence.push_back(std::move(e));
        result.findings.push_back(std::move(f));
      }
    }
  }
  return result;
}

LogFollower::Lag LogFollower::lag() const {
  absl::MutexLock lock(&lag_mu_);
  Lag out = lag_;
  out.now = clock_.Now();
  return out;
}

void LogFollower::NoteSeen(uint64_t size) {
  absl::MutexLock lock(&lag_mu_);
  if (size > lag_.seen_size || lag_.seen_at == absl::InfinitePast()) {
    lag_.seen_size = std::max(size, lag_.seen_size);
    lag_.seen_at = clock_.Now();
  }
  if (size > lag_.verified_size && lag_.behind_since == absl::InfinitePast()) {
    lag_.behind_since = clock_.Now();
  }
}

void LogFollower::NoteVerified(uint64_t size) {
  absl::MutexLock lock(&lag_mu_);
  lag_.verified_size = size;
  lag_.verified_at = clock_.Now();
  lag_.seen_size = std::max(lag_.seen_size, size);
  if (lag_.seen_size <= size) lag_.behind_since = absl::InfinitePast();
}

LogFollower::HistoryCheck LogFollower::CheckHistory(int bundles) {
  HistoryCheck out;
  const uint64_t size = checkpoint_.size;
  const uint64_t count = (size + log::kTileWidth - 1) / log::kTileWidth;
  if (count == 0 || bundles <= 0) return out;
  if (!sweep_started_) {
    sweep_next_ = rng_() % count;  // each auditor start sweeps from elsewhere
    sweep_started_ = true;
  }
  for (int k = 0; k < bundles; ++k) {
    uint64_t b;
    if (history_picks_++ % 2 == 0) {
      b = sweep_next_ % count;
      sweep_next_ = b + 1;
    } else {
      b = rng_() % count;
    }
    ++out.bundles_checked;
    const uint64_t unavailable = out.unavailable;
    // One finding per call is enough; and a log that does not answer is not
    // asked again in this call (each fetch may wait for its timeout).
    if (!CheckBundle(b, out) || out.unavailable > unavailable) break;
  }
  return out;
}

bool LogFollower::CheckBundle(uint64_t b, HistoryCheck& out) {
  const uint64_t size = checkpoint_.size;
  const uint64_t base = b * log::kTileWidth;
  const uint64_t width = std::min<uint64_t>(log::kTileWidth, size - base);
  auto tampered = [&](std::string key, std::string summary, Evidence e) {
    Finding f = MakeFinding(kDetectorTamperedHistory, std::move(key),
                            std::move(summary));
    e.origin = log_.origin;
    e.checkpoints = {note_};
    if (e.index) {
      absl::StatusOr<std::string> proof = ProofFor(*e.index);
      if (proof.ok()) e.proof = *proof;
    }
    f.evidence.push_back(std::move(e));
    out.findings.push_back(std::move(f));
    return false;
  };
  auto hex = [](const log::Hash& h) {
    return absl::BytesToHexString(
        absl::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
  };
  auto unavailable = [&](const absl::Status& st) {
    ++out.unavailable;
    out.last_error = st.ToString();
    return true;
  };

  const std::string path = ResourcePath(true, b, size);
  absl::StatusOr<std::string> bundle = fetch_(path);
  if (!bundle.ok()) return unavailable(bundle.status());
  std::vector<absl::string_view> items;
  absl::StatusOr<std::vector<absl::string_view>> parsed =
      log::ParseEntryBundle(*bundle);
  if (parsed.ok()) items = *std::move(parsed);
  if (!parsed.ok() || items.size() != width) {
    Evidence e;
    e.index = base;
    e.entry_sha256 = HexSha256(*bundle);
    e.note = absl::StrCat(path, " no longer holds the ", width,
                          " verified entries (SHA-256 of the served bundle "
                          "in entry_sha256)");
    return tampered(absl::StrCat("bundle@", b),
                    absl::StrCat("log '", log_.origin, "' now serves ", path,
                                 " malformed or of the wrong length"),
                    std::move(e));
  }
  log::MerkleHasher hasher;
  for (uint64_t i = 0; i < items.size(); ++i) {
    const uint64_t index = base + i;
    const log::Hash served = hasher.Leaf(items[i]);
    if (served == tree_.leaf(index)) continue;
    // Both versions by their leaf hashes; the entry bytes stay out of the
    // incident (a rewritten entry is the operator's text, not the log's).
    Evidence e;
    e.index = index;
    e.entry_sha256 = HexSha256(items[i]);
    e.note =
        absl::StrCat("entry ", index, " of ", path, ": verified leaf hash ",
                     hex(tree_.leaf(index)), ", now served ", hex(served),
                     " (the proof is of the verified one)");
    return tampered(absl::StrCat("entry@", index),
                    absl::StrCat("log '", log_.origin, "' now serves entry ",
                                 index, " differently than verified"),
                    std::move(e));
  }
  // The hash tiles above the bundle, level 0 up to the top of the tree.
  for (int level = 0; level < 8; ++level) {
    const uint64_t hashes = log::HashesAtLevel(size, level);
    const uint64_t tile = b >> (log::kTileHeight * level);
    if (tile * log::kTileWidth >= hashes) break;
    log::TilePath tp;
    tp.level = level;
    tp.index = tile;
    tp.width = static_cast<int>(
        std::min<uint64_t>(log::kTileWidth, hashes - tile * log::kTileWidth));
    const std::string tpath = log::FormatTilePath(tp);
    absl::StatusOr<std::string> t = fetch_(tpath);
    if (!t.ok()) return unavailable(t.status());
    if (t->size() != static_cast<size_t>(tp.width) * log::kHashSize) {
      Evidence e;
      e.note = absl::StrCat(tpath, " is ", t->size(), " bytes, not ",
                            tp.width * log::kHashSize);
      return tampered(absl::StrCat("tile@", level, "/", tile),
                      absl::StrCat("log '", log_.origin, "' now serves ", tpath,
                                   " of the wrong length"),
                      std::move(e));
    }
    for (int j = 0; j < tp.width; ++j) {
      const uint64_t pos = tile * log::kTileWidth + j;
      const log::Hash* want = tree_.Subtree(log::kTileHeight * level, pos);
      log::Hash got;
      std::memcpy(got.data(), t->data() + j * log::kHashSize, got.size());
      if (want != nullptr && *want == got) continue;
      Evidence e;
      if (level == 0) e.index = pos;
      e.note =
          absl::StrCat("hash ", j, " of ", tpath, ": verified ",
                       want ? hex(*want) : "(none)", ", now served ", hex(got));
      return tampered(absl::StrCat("tile@", level, "/", tile),
                      absl::StrCat("log '", log_.origin, "' now serves ", tpath,
                                   " differently than verified"),
                      std::move(e));
    }
  }
  return true;
}

absl::StatusOr<std::string> LogFollower::VerifiedEntry(uint64_t index) {
  const uint64_t size = checkpoint_.size;
  if (index >= size) {
    return absl::OutOfRangeError(absl::StrCat(
        "entry ", index, " is not in the verified tree of size ", size));
  }
  const uint64_t tile = index / log::kTileWidth;
  const uint64_t base = tile * log::kTileWidth;
  const uint64_t width = std::min<uint64_t>(log::kTileWidth, size - base);
  // A partial bundle cached at a smaller size does not hold `index`.
  if (cached_tile_ != tile || index - base >= cached_width_) {
    CLOVER_ASSIGN_OR_RETURN(std::string bundle,
                            fetch_(ResourcePath(true, tile, size)));
    CLOVER_ASSIGN_OR_RETURN(std::vector<absl::string_view> items,
                            log::ParseEntryBundle(bundle));
    if (items.size() != width) {
      return absl::DataLossError(
          absl::StrCat("log '", log_.origin, "': bundle ", tile, " holds ",
                       items.size(), " entries, not the ", width, " verified"));
    }
    cached_entries_.clear();
    for (absl::string_view it : items) cached_entries_.emplace_back(it);
    cached_tile_ = tile;
    cached_width_ = width;
  }
  const std::string& e = cached_entries_[index - base];
  if (log::MerkleHasher().Leaf(e) != tree_.leaf(index)) {
    cached_tile_ = UINT64_MAX;
    return absl::DataLossError(absl::StrCat("log '", log_.origin,
                                            "' serves entry ", index,
                                            " other than verified"));
  }
  return e;
}

absl::StatusOr<LogFollower::EntryFetch> LogFollower::PrepareEntryFetch(
    uint64_t index) const {
  const uint64_t size = checkpoint_.size;
  if (index >= size) {
    return absl::OutOfRangeError(absl::StrCat(
        "entry ", index, " is not in the verified tree of size ", size));
  }
  EntryFetch f;
  f.origin = log_.origin;
  f.index = index;
  const uint64_t tile = index / log::kTileWidth;
  f.base = tile * log::kTileWidth;
  f.width = std::min<uint64_t>(log::kTileWidth, size - f.base);
  f.path = ResourcePath(true, tile, size);
  f.leaf = tree_.leaf(index);
  f.fetch = fetch_;
  return f;
}

absl::StatusOr<std::string> LogFollower::EntryFetch::Fetch() const {
  CLOVER_ASSIGN_OR_RETURN(std::string bundle, fetch(path));
  CLOVER_ASSIGN_OR_RETURN(std::vector<absl::string_view> items,
                          log::ParseEntryBundle(bundle));
  if (items.size() != width) {
    return absl::DataLossError(absl::StrCat(
        "log '", origin, "': bundle ", base / log::kTileWidth, " holds ",
        items.size(), " entries, not the ", width, " verified"));
  }
  const absl::string_view e = items[index - base];
  if (log::MerkleHasher().Leaf(e) != leaf) {
    return absl::DataLossError(absl::StrCat("log '", origin, "' serves entry ",
                                            index, " other than verified"));
  }
  return std::string(e);
}

absl::StatusOr<std::string> LogFollower::ProofFor(uint64_t index) const {
  if (index >= checkpoint_.size) {
    return absl::OutOfRangeError(
        absl::StrCat("entry ", index, " is not in the verified tree of size ",
                     checkpoint_.size));
  }
  TlogProof p;
  p.index = index;
  CLOVER_ASSIGN_OR_RETURN(p.proof,
                          tree_.InclusionProof(index, checkpoint_.size));
  p.checkpoint = note_;
  return FormatTlogProof(p);
}

}  // namespace clover::audit
