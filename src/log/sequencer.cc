#include "log/sequencer.h"

#include <pthread.h>

#include <cstring>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "core/status_macros.h"
#include "log/tile.h"
#include "spdlog/spdlog.h"

namespace clover::log {
namespace {

// The first 8 bytes of a hash in hex: enough to tell two hashes apart in a
// log line.
std::string HexPrefix(const Hash& h) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(h.data()), 8));
}

// v2: "clover-log/v2\n<origin>\n<size>\n<fragment offsets, comma-separated>\n".
// v1 (before bundle fragments): the first three lines, with the partial
// bundle stored whole under its index.
constexpr absl::string_view kMetadataMagic = "clover-log/v2";
constexpr absl::string_view kMetadataMagicV1 = "clover-log/v1";

}  // namespace

Sequencer::Sequencer(std::unique_ptr<LogStorage> storage,
                     std::unique_ptr<NoteSigner> signer,
                     SequencerOptions options)
    : storage_(std::move(storage)),
      signer_(std::move(signer)),
      options_(std::move(options)),
      cache_(options_.tile_cache_tiles),
      edges_(kLevels) {}

absl::StatusOr<std::unique_ptr<Sequencer>> Sequencer::Open(
    std::unique_ptr<LogStorage> storage, std::unique_ptr<NoteSigner> signer,
    SequencerOptions options) {
  if (storage == nullptr)
    return absl::InvalidArgumentError("sequencer: no storage");
  if (options.max_batch_entries == 0) {
    return absl::InvalidArgumentError(
        "sequencer: max_batch_entries must be positive");
  }
  std::unique_ptr<Sequencer> s(
      new Sequencer(std::move(storage), std::move(signer), std::move(options)));
  CLOVER_RETURN_IF_ERROR(s->Load());
  if (s->signer_ != nullptr) {
    s->writer_ = std::thread([p = s.get()] {
      pthread_setname_np(pthread_self(), "log-writer");
      p->WriteLoop();
    });
    s->thread_ = std::thread([p = s.get()] {
      pthread_setname_np(pthread_self(), "log-integrate");
      p->Run();
    });
  }
  return s;
}

Sequencer::~Sequencer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable())
    thread_.join();  // drains the queue, then closes the pipe
  if (writer_.joinable()) writer_.join();
}

std::string Sequencer::Metadata(uint64_t size) const {
  std::string offsets;
  for (const Fragment& f : fragments_) {
    absl::StrAppend(&offsets, offsets.empty() ? "" : ",", f.offset);
  }
  return absl::StrCat(kMetadataMagic, "\n", origin_, "\n", size, "\n", offsets,
                      "\n");
}

absl::Status Sequencer::LoadPartialBundle(uint64_t size,
                                          const std::vector<int>* offsets) {
  const int width = PartialTileWidth(size, 0);
  const uint64_t index = size / kTileWidth;
  fragments_.clear();
  if (offsets == nullptr) {
    if (width == 0) return absl::OkStatus();
    CLOVER_ASSIGN_OR_RETURN(std::string bundle,
                            storage_->ReadEntryBundle(index));
    auto prefix = BundlePrefixSize(bundle, width);
    if (!prefix.ok()) {
      return absl::DataLossError(absl::StrCat("stored partial entry bundle: ",
                                              prefix.status().message()));
    }
    bundle.resize(*prefix);
    fragments_.push_back(
        Fragment{0, std::make_shared<const std::string>(std::move(bundle))});
    rewrite_partial_ = true;
    return absl::OkStatus();
  }
  if (offsets->empty() != (width == 0) ||
      (!offsets->empty() && offsets->front() != 0)) {
    return absl::DataLossError(
        "log metadata lists bundle fragments that do not match the tree size");
  }
  for (size_t i = 0; i < offsets->size(); ++i) {
    const int offset = (*offsets)[i];
    const int end = i + 1 < offsets->size() ? (*offsets)[i + 1] : width;
    if (end <= offset) {
      return absl::DataLossError(
          "log metadata lists bundle fragments out of order or beyond the "
          "tree size");
    }
    auto data = storage_->ReadBundleFragment(FragmentId{index, offset});
    if (absl::IsNotFound(data.status())) {
      return absl::DataLossError(absl::StrCat(
          "entry bundle ", index, " fragment at ", offset, " is missing"));
    }
    if (!data.ok()) return data.status();
    auto prefix = BundlePrefixSize(*data, end - offset);
    if (!prefix.ok() || *prefix != data->size()) {
      return absl::DataLossError(
          absl::StrCat("entry bundle ", index, " fragment at ", offset,
                       " does not hold exactly ", end - offset, " entries"));
    }
    fragments_.push_back(Fragment{
        offset, std::make_shared<const std::string>(*std::move(data))});
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Sequencer::MakeCheckpoint(uint64_t size,
                                                      const Hash& root) const {
  const NoteSigner* signers[] = {signer_.get()};
  return SignNote(FormatCheckpoint(Checkpoint{origin_, size, root, {}}),
                  signers);
}

absl::Status Sequencer::Load() {
  auto meta = storage_->ReadMetadata();
  if (!meta.ok() && !absl::IsNotFound(meta.status())) return meta.status();
  if (!meta.ok()) {
    // A new log: publish the empty tree so that readers always find a
    // checkpoint.
    if (signer_ == nullptr)
      return absl::NotFoundError("no log has been created in this store");
    origin_ = options_.origin.empty() ? signer_->name() : options_.origin;
    if (origin_.empty() || origin_.find('\n') != std::string::npos) {
      return absl::InvalidArgumentError(
          "log origin must be one non-empty line");
    }
    LogWriteBatch wb;
    CLOVER_ASSIGN_OR_RETURN(wb.checkpoint, MakeCheckpoint(0, EmptyRootHash()));
    wb.metadata = Metadata(0);
    CLOVER_RETURN_IF_ERROR(storage_->Write(wb));
    auto snap = std::make_shared<Snapshot>();
    snap->size = 0;
    snap->root = EmptyRootHash();
    snap->checkpoint = std::move(wb.checkpoint);
    snap->edges = edges_;
    absl::MutexLock lock(&snap_mu_);
    snap_ = std::move(snap);
    return absl::OkStatus();
  }
  std::vector<absl::string_view> lines = absl::StrSplit(*meta, '\n');
  uint64_t size = 0;
  const bool v1 = lines.size() == 4 && lines[0] == kMetadataMagicV1;
  const bool v2 = lines.size() == 5 && lines[0] == kMetadataMagic;
  if (!(v1 || v2) || !lines.back().empty() ||
      !absl::SimpleAtoi(lines[2], &size)) {
    return absl::DataLossError("log metadata record is malformed");
  }
  std::vector<int> offsets;
  if (v2 && !lines[3].empty()) {
    for (absl::string_view o : absl::StrSplit(lines[3], ',')) {
      int offset = 0;
      if (!absl::SimpleAtoi(o, &offset) || offset < 0 || offset >= kTileWidth) {
        return absl::DataLossError(
            "log metadata record has a malformed fragment list");
      }
      offsets.push_back(offset);
    }
  }
  origin_ = std::string(lines[1]);
  if (!options_.origin.empty() && options_.origin != origin_) {
    return absl::FailedPreconditionError(
        absl::StrCat("the stored log has origin '", origin_, "', not '",
                     options_.origin, "'"));
  }
  if (signer_ != nullptr && options_.origin.empty() &&
      signer_->name() != origin_) {
    return absl::FailedPreconditionError(
        absl::StrCat("the stored log has origin '", origin_,
                     "' but the key is named '", signer_->name(), "'"));
  }
  for (int k = 0; k < kLevels; ++k) {
    const int w = PartialTileWidth(size, k);
    if (w == 0) continue;
    CLOVER_ASSIGN_OR_RETURN(std::string tile,
                            storage_->ReadTile(k, FullTileCount(size, k)));
    if (tile.size() < static_cast<size_t>(w) * kHashSize) {
      return absl::DataLossError(
          absl::StrCat("stored partial tile at level ", k,
                       " is shorter than the tree size requires"));
    }
    CLOVER_ASSIGN_OR_RETURN(
        edges_[k],
        TileTree::FromBytes(absl::string_view(tile).substr(0, w * kHashSize),
                            hasher_));
  }
  CLOVER_RETURN_IF_ERROR(LoadPartialBundle(size, v2 ? &offsets : nullptr));
  size_ = size;
  const Hash root = EdgeRoot();
  CLOVER_ASSIGN_OR_RETURN(std::string note, storage_->ReadCheckpoint());
  CLOVER_ASSIGN_OR_RETURN(ParsedNote parsed, ParseNote(note));
  CLOVER_ASSIGN_OR_RETURN(Checkpoint cp, ParseCheckpoint(parsed.text));
  if (cp.size != size || cp.root != root || cp.origin != origin_) {
    return absl::DataLossError(
        "stored checkpoint does not match the stored tree");
  }
  // The partial bundle is served from memory from now on: check once that its
  // stored entries hash to the edge's leaves (which the checkpoint verified).
  if (!fragments_.empty()) {
    std::string partial;
    for (const Fragment& f : fragments_) partial.append(*f.data);
    CLOVER_ASSIGN_OR_RETURN(auto items, ParseEntryBundle(partial));
    for (size_t i = 0; i < items.size(); ++i) {
      const Hash* want = edges_[0].Node(0, i);
      const Hash got = hasher_.Leaf(items[i]);
      if (want == nullptr || got != *want) {
        const std::string path = FormatTilePath(TilePath{
            true, 0, size / kTileWidth, PartialTileWidth(size, 0)});
        spdlog::error(
            "log '{}': stored entry bundle {} does not match the tree at "
            "entry {}",
            origin_, path, size / kTileWidth * kTileWidth + i);
        return absl::DataLossError(absl::StrCat(
            "stored entry bundle ", path, " does not match the tree"));
      }
    }
  }
  auto snap = std::make_shared<Snapshot>();
  snap->size = size;
  snap->root = root;
  snap->checkpoint = std::move(note);
  snap->edges = edges_;
  snap->partial = fragments_;
  absl::MutexLock lock(&snap_mu_);
  snap_ = std::move(snap);
  return absl::OkStatus();
}

void Sequencer::Append(std::string entry, Callback done) {
  if (signer_ == nullptr) {
    done(absl::FailedPreconditionError("the log is open read-only"));
    return;
  }
  if (entry.size() > kMaxEntrySize) {
    done(absl::InvalidArgumentError(absl::StrCat(
        "log entry of ", entry.size(), " bytes exceeds the maximum of 65535")));
    return;
  }
  thread_local MerkleHasher hasher;
  const Hash leaf = hasher.Leaf(entry);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      done(absl::UnavailableError("the log is shutting down"));
      return;
    }
    if (queue_.size() >= options_.max_queued_entries) {
      done(absl::ResourceExhaustedError("the log's append queue is full"));
      return;
    }
    if (queue_.empty()) first_queued_ = absl::Now();
    queue_.push_back(Pending{std::move(entry), leaf, std::move(done)});
  }
}

std::future<absl::StatusOr<uint64_t>> Sequencer::Append(std::string entry) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<uint64_t>>>();
  auto future = promise->get_future();
  Append(std::move(entry), [promise](absl::StatusOr<uint64_t> r) {
    promise->set_value(std::move(r));
  });
  return future;
}

void Sequencer::Run() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &Sequencer::HasWork));
    }
    // A batch is taken when the writer is free for it, not before: entries
    // that arrive while a batch is being written join the next batch rather
    // than queue behind batches taken early. Under load a batch is then
    // everything that arrived during the previous write (one fsync and one
    // signature for all of them); at light load an entry waits for no one.
    bool rollback = false;
    {
      absl::MutexLock lock(&pipe_mu_);
      pipe_mu_.Await(absl::Condition(this, &Sequencer::WriterFree));
      rollback = poisoned_;
    }
    if (rollback) {
      RollBack();
      absl::MutexLock lock(&pipe_mu_);
      poisoned_ = false;
    }
    std::vector<Pending> batch;
    {
      absl::MutexLock lock(&mu_);
      if (queue_.empty()) break;  // stopping and drained
      if (queue_.size() < options_.max_batch_entries &&
          options_.max_batch_wait > absl::ZeroDuration()) {
        mu_.AwaitWithDeadline(absl::Condition(this, &Sequencer::BatchFull),
                              first_queued_ + options_.max_batch_wait);
      }
      if (queue_.size() <= options_.max_batch_entries) {
        batch.swap(queue_);
      } else {
        auto mid =
            queue_.begin() + static_cast<ptrdiff_t>(options_.max_batch_entries);
        batch.assign(std::make_move_iterator(queue_.begin()),
                     std::make_move_iterator(mid));
        queue_.erase(queue_.begin(), mid);
        first_queued_ = absl::Now();
      }
    }
    std::unique_ptr<Prepared> prepared = Integrate(std::move(batch));
    absl::MutexLock lock(&pipe_mu_);
    pipe_.push_back(std::move(prepared));
    writing_ = true;
  }
  absl::MutexLock lock(&pipe_mu_);
  pipe_closed_ = true;
}

void Sequencer::WriteLoop() {
  for (;;) {
    std::unique_ptr<Prepared> p;
    {
      absl::MutexLock lock(&pipe_mu_);
      pipe_mu_.Await(absl::Condition(this, &Sequencer::PipeHasWork));
      if (pipe_.empty()) return;  // closed and drained
      p = std::move(pipe_.front());
      pipe_.erase(pipe_.begin());
    }
    BatchReport report;
    report.entries = p->batch.size();
    report.integrate_time = p->integrate_time;
    if (p->status.ok()) {
      const absl::Time write_start = absl::Now();
      p->status = storage_->Write(p->wb);
      report.write_time = absl::Now() - write_start;
      absl::MutexLock lock(&stats_mu_);
      ++stats_.batches;
      stats_.entries += p->batch.size();
      stats_.integrate_time += p->integrate_time;
      stats_.write_time += report.write_time;
    }
    report.ok = p->status.ok();
    if (options_.on_batch_written) options_.on_batch_written(report);
    if (p->status.ok()) {
      // The next batch is integrated while this one's callbacks run: it does
      // not read what Commit publishes, and this thread writes it after.
      {
        absl::MutexLock lock(&pipe_mu_);
        writing_ = false;
      }
      Commit(*p);
      if (options_.on_published) options_.on_published();
    } else {
      // Run rolls back to the published snapshot once the writer is free:
      // only after this batch's callbacks have had their error.
      Commit(*p);
      absl::MutexLock lock(&pipe_mu_);
      poisoned_ = true;
      writing_ = false;
    }
  }
}

void Sequencer::Commit(Prepared& p) {
  if (!p.status.ok()) {
    for (Pending& e : p.batch) e.done(p.status);
    return;
  }
  for (auto& [id, tile] : p.full)
    cache_.Put(id.level, id.index, std::move(tile));
  {
    absl::MutexLock lock(&snap_mu_);
    snap_ = std::move(p.snap);
  }
  uint64_t index = p.first_index;
  for (Pending& e : p.batch) e.done(index++);
}

void Sequencer::RollBack() {
  // Back to the last durable state: the published snapshot.
  std::shared_ptr<const Snapshot> snap = snapshot();
  size_ = snap->size;
  edges_ = snap->edges;
  fragments_ = snap->partial;
  rewrite_partial_ = !fragments_.empty();
}

void Sequencer::AddHash(int level, const Hash& hash, LogWriteBatch& wb,
                        FullTiles& full) {
  TileTree& edge = edges_[level];
  edge.Append(hash, hasher_);
  if (!edge.full()) return;
  // size_ already counts the new leaf, so the hashes at this level number size_
  // >> 8*level.
  const TileId id{level, HashesAtLevel(size_, level) / kTileWidth - 1};
  wb.tiles.emplace_back(id, edge.Serialize());
  const Hash root = edge.Root();
  full.emplace_back(id, std::make_shared<const TileTree>(std::move(edge)));
  edge = TileTree();
  if (level + 1 < kLevels) AddHash(level + 1, root, wb, full);
}

Hash Sequencer::EdgeRoot() {
  std::optional<Hash> acc;
  for (int k = 0; k < kLevels; ++k) {
    for (int s = 0; s < kTileHeight; ++s) {
      auto nodes = edges_[k].Nodes(s);
      if (nodes.size() % 2 == 1) {
        acc = acc ? hasher_.Node(nodes.back(), *acc) : nodes.back();
      }
    }
  }
  return acc ? *acc : EmptyRootHash();
}

std::unique_ptr<Sequencer::Prepared> Sequencer::Integrate(
    std::vector<Pending> batch) {
  auto p = std::make_unique<Prepared>();
  p->start = absl::Now();
  p->first_index = size_;
  const uint64_t old_size = size_;
  LogWriteBatch& wb = p->wb;
  // This batch's entries of the partial bundle: stored as one new fragment,
  // so a batch writes its own entries only.
  std::string piece;
  int piece_offset = PartialTileWidth(size_, 0);
  if (rewrite_partial_) {
    rewrite_partial_ = false;
    const uint64_t index = size_ / kTileWidth;
    for (const Fragment& f : fragments_) {
      piece.append(*f.data);
      if (f.offset != 0) wb.deleted_fragments.push_back({index, f.offset});
    }
    // A fragment that a failed write may have stored after all.
    if (piece_offset != 0)
      wb.deleted_fragments.push_back({index, piece_offset});
    fragments_.clear();
    piece_offset = 0;
  }
  for (const Pending& e : batch) {
    const char len[2] = {static_cast<char>(e.entry.size() >> 8),
                         static_cast<char>(e.entry.size() & 0xff)};
    piece.append(len, 2);
    piece.append(e.entry);
    ++size_;
    AddHash(0, e.leaf, wb, p->full);
    if (size_ % kTileWidth == 0) {
      // The bundle is full: its last fragment completes it, and it stays
      // stored as its fragments (written once, never rewritten whole).
      wb.fragments.emplace_back(
          FragmentId{size_ / kTileWidth - 1, piece_offset}, std::move(piece));
      fragments_.clear();
      piece.clear();
      piece_offset = 0;
    }
  }
  if (!piece.empty()) {
    auto data = std::make_shared<const std::string>(std::move(piece));
    wb.fragments.emplace_back(FragmentId{size_ / kTileWidth, piece_offset},
                              *data);
    fragments_.push_back(Fragment{piece_offset, std::move(data)});
  }
  for (int k = 0; k < kLevels; ++k) {
    if (edges_[k].width() > 0 &&
        HashesAtLevel(old_size, k) != HashesAtLevel(size_, k)) {
      wb.tiles.emplace_back(TileId{k, FullTileCount(size_, k)},
                            edges_[k].Serialize());
    }
  }
  const Hash root = EdgeRoot();
  auto note = MakeCheckpoint(size_, root);
  if (note.ok()) {
    wb.metadata = Metadata(size_);
    auto snap = std::make_shared<Snapshot>();
    snap->size = size_;
    snap->root = root;
    snap->checkpoint = *note;
    snap->edges = edges_;
    snap->partial = fragments_;
    p->snap = std::move(snap);
    wb.checkpoint = *std::move(note);
  } else {
    p->status = note.status();
  }
  p->batch = std::move(batch);
  p->integrate_time = absl::Now() - p->start;
  return p;
}

std::shared_ptr<const Sequencer::Snapshot> Sequencer::snapshot() const {
  absl::MutexLock lock(&snap_mu_);
  return snap_;
}

SequencerStats Sequencer::Stats() const {
  absl::MutexLock lock(&stats_mu_);
  return stats_;
}

uint64_t Sequencer::Size() const { return snapshot()->size; }

std::string Sequencer::SignedCheckpoint() const {
  return snapshot()->checkpoint;
}

Checkpoint Sequencer::LatestCheckpoint() const {
  auto snap = snapshot();
  return Checkpoint{origin_, snap->size, snap->root, {}};
}

absl::StatusOr<std::shared_ptr<const TileTree>> Sequencer::FullTile(
    const Snapshot& snap, int level, uint64_t index) const {
  if (auto hit = cache_.Get(level, index)) return hit;
  const std::string path = FormatTilePath(TilePath{false, level, index});
  auto bytes = storage_->ReadTile(level, index);
  if (absl::IsNotFound(bytes.status())) {
    return absl::DataLossError(
        absl::StrCat("stored tile ", path, " is missing"));
  }
  if (!bytes.ok()) return bytes.status();
  if (bytes->size() != kTileWidth * kHashSize) {
    return absl::DataLossError(absl::StrCat("stored tile ", path, " is ",
                                            bytes->size(),
                                            " bytes, not a full tile"));
  }
  // Verified once, as it enters the cache: FromBytes hashes the tile up to
  // its root anyway, so the check costs one look-up of the parent hash
  // (cached, or at most one storage read per level on a cold cache).
  MerkleHasher hasher;
  CLOVER_ASSIGN_OR_RETURN(TileTree tree, TileTree::FromBytes(*bytes, hasher));
  if (level + 1 >= kLevels) {
    return absl::DataLossError(absl::StrCat("stored tile ", path,
                                            " is above the highest level"));
  }
  CLOVER_ASSIGN_OR_RETURN(Hash parent, TileHash(snap, level + 1, index));
  if (parent != tree.Root()) {
    return absl::DataLossError(absl::StrCat(
        "stored tile ", path, " does not match the tree: its root ",
        HexPrefix(tree.Root()), " differs from hash ", index, " of level ",
        level + 1, " (", HexPrefix(parent), ")"));
  }
  auto tile = std::make_shared<const TileTree>(std::move(tree));
  cache_.Put(level, index, tile);
  return tile;
}

absl::StatusOr<Hash> Sequencer::TileHash(const Snapshot& snap, int level,
                                         uint64_t pos) const {
  const uint64_t tile = pos / kTileWidth;
  const uint64_t i = pos % kTileWidth;
  if (tile < FullTileCount(snap.size, level)) {
    CLOVER_ASSIGN_OR_RETURN(auto hold, FullTile(snap, level, tile));
    return *hold->Node(0, i);
  }
  const Hash* h = level < kLevels ? snap.edges[level].Node(0, i) : nullptr;
  if (h == nullptr) {
    return absl::InternalError(absl::StrCat("no hash ", pos, " at level ",
                                            level, " in the tree"));
  }
  return *h;
}

absl::Status Sequencer::Refused(absl::string_view resource,
                                absl::Status st) const {
  if (st.ok() || absl::IsNotFound(st) || absl::IsInvalidArgument(st)) {
    return st;
  }
  spdlog::error("log '{}': refused to serve {}: {}", origin_,
                std::string(resource), std::string(st.message()));
  if (options_.on_read_refused) options_.on_read_refused();
  return st;
}

absl::StatusOr<Hash> Sequencer::ReadNode(const Snapshot& snap, int height,
                                         uint64_t index) const {
  const int level = height / kTileHeight;
  const int sub = height % kTileHeight;
  const uint64_t tile = (index << sub) / kTileWidth;
  const uint64_t pos = index - (tile << (kTileHeight - sub));
  const Hash* node = nullptr;
  std::shared_ptr<const TileTree> hold;
  if (tile < FullTileCount(snap.size, level)) {
    CLOVER_ASSIGN_OR_RETURN(hold, FullTile(snap, level, tile));
    node = hold->Node(sub, pos);
  } else if (level < kLevels) {
    node = snap.edges[level].Node(sub, pos);
  }
  if (node == nullptr) {
    return absl::InternalError(absl::StrCat("Merkle node at height ", height,
                                            " index ", index,
                                            " is not available"));
  }
  return *node;
}

absl::StatusOr<std::vector<Hash>> Sequencer::InclusionProof(
    uint64_t index, uint64_t size) const {
  auto snap = snapshot();
  if (size > snap->size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tree size ", size, " is larger than the log (", snap->size, ")"));
  }
  auto proof = log::InclusionProof(
      index, size, [&](int h, uint64_t i) { return ReadNode(*snap, h, i); });
  if (!proof.ok()) return Refused("an inclusion proof", proof.status());
  return proof;
}

absl::StatusOr<std::vector<Hash>> Sequencer::ConsistencyProof(
    uint64_t from, uint64_t to) const {
  auto snap = snapshot();
  if (to > snap->size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tree size ", to, " is larger than the log (", snap->size, ")"));
  }
  auto proof = log::ConsistencyProof(
      from, to, [&](int h, uint64_t i) { return ReadNode(*snap, h, i); });
  if (!proof.ok()) return Refused("a consistency proof", proof.status());
  return proof;
}

absl::StatusOr<std::string> Sequencer::ReadTile(int level, uint64_t index,
                                                int width) const {
  auto snap = snapshot();
  if (level < 0 || level >= kLevels || width < 1 || width > kTileWidth) {
    return absl::NotFoundError("no such tile");
  }
  const uint64_t full_count = FullTileCount(snap->size, level);
  if (index < full_count) {
    auto tile = FullTile(*snap, level, index);
    if (!tile.ok()) {
      return Refused(FormatTilePath(TilePath{false, level, index, width}),
                     tile.status());
    }
    return (*tile)->Serialize(width);
  }
  if (index == full_count && width <= PartialTileWidth(snap->size, level)) {
    return snap->edges[level].Serialize(width);
  }
  return absl::NotFoundError("tile does not exist (yet)");
}

absl::StatusOr<std::string> Sequencer::ReadEntryBundle(uint64_t index,
                                                       int width) const {
  auto snap = snapshot();
  if (width < 1 || width > kTileWidth)
    return absl::NotFoundError("no such entry bundle");
  const uint64_t full_count = FullTileCount(snap->size, 0);
  if (index > full_count ||
      (index == full_count && width > PartialTileWidth(snap->size, 0))) {
    return absl::NotFoundError("entry bundle does not exist (yet)");
  }
  if (index == full_count) return PartialBundle(*snap, width);
  // Full bundles are never rewritten.
  auto bytes = StoredBundle(*snap, index);
  if (!bytes.ok()) {
    return Refused(FormatTilePath(TilePath{true, 0, index, width}),
                   bytes.status());
  }
  if (width < kTileWidth) {
    CLOVER_ASSIGN_OR_RETURN(size_t prefix, BundlePrefixSize(*bytes, width));
    bytes->resize(prefix);
  }
  return bytes;
}

absl::StatusOr<std::string> Sequencer::StoredBundle(const Snapshot& snap,
                                                    uint64_t index) const {
  const std::string path = FormatTilePath(TilePath{true, 0, index});
  auto bytes = storage_->ReadEntryBundle(index);
  if (absl::IsNotFound(bytes.status())) {
    return absl::DataLossError(
        absl::StrCat("stored entry bundle ", path, " is missing"));
  }
  if (!bytes.ok()) return bytes.status();
  // Exactly a bundle's entries, nothing after them: a stray fragment would
  // show as trailing bytes (or fail to parse).
  auto full = BundlePrefixSize(*bytes, kTileWidth);
  if (full.ok() && *full != bytes->size()) {
    full = absl::InvalidArgumentError(
        absl::StrCat(bytes->size() - *full, " bytes follow its last entry"));
  }
  if (!full.ok()) {
    return absl::DataLossError(absl::StrCat("stored entry bundle ", path, ": ",
                                            full.status().message()));
  }
  // Each entry must hash to the tree's leaf (the level-0 tile, itself
  // verified up to the checkpoint). Bundles are not cached, so this runs on
  // every read of a full bundle. Measured on the 2-core VM, a bundle of 256
  // entries of 500 bytes: 0.28 ms of leaf hashing (about 1.1 us per entry,
  // what appending it cost) against 0.03 ms to read it from RocksDB's block
  // cache. A full bundle is read about once per auditor or verifier, so this
  // stays far below the gateway's append cost; a cache of verified bundles
  // would remove it for repeated readers.
  CLOVER_ASSIGN_OR_RETURN(auto tile, FullTile(snap, 0, index));
  CLOVER_ASSIGN_OR_RETURN(auto entries, ParseEntryBundle(*bytes));
  thread_local MerkleHasher hasher;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Hash leaf = hasher.Leaf(entries[i]);
    if (leaf != *tile->Node(0, i)) {
      return absl::DataLossError(absl::StrCat(
          "stored entry bundle ", path, " does not match the tree: entry ",
          index * kTileWidth + i, " hashes to ", HexPrefix(leaf),
          ", the tree holds ", HexPrefix(*tile->Node(0, i))));
    }
  }
  return bytes;
}

absl::StatusOr<std::string> Sequencer::PartialBundle(const Snapshot& snap,
                                                     int width) {
  std::string bytes;
  for (const Fragment& f : snap.partial) {
    if (f.offset >= width) break;
    bytes.append(*f.data);
  }
  auto prefix = BundlePrefixSize(bytes, width);
  if (!prefix.ok()) {
    return absl::InternalError(absl::StrCat("partial entry bundle in memory: ",
                                            prefix.status().message()));
  }
  bytes.resize(*prefix);
  return bytes;
}

absl::StatusOr<std::string> Sequencer::ReadEntry(uint64_t index) const {
  auto snap = snapshot();
  if (index >= snap->size) {
    return absl::NotFoundError(
        absl::StrCat("entry ", index, " is beyond the tree size ", snap->size));
  }
  const uint64_t bundle = index / kTileWidth;
  const int pos = static_cast<int>(index % kTileWidth);
  if (bundle == FullTileCount(snap->size, 0)) {
    // Only the fragment holding the entry needs parsing.
    for (size_t i = snap->partial.size(); i-- > 0;) {
      const Fragment& f = snap->partial[i];
      if (f.offset > pos) continue;
      CLOVER_ASSIGN_OR_RETURN(auto entries, ParseEntryBundle(*f.data));
      if (static_cast<size_t>(pos - f.offset) >= entries.size()) break;
      return std::string(entries[pos - f.offset]);
    }
    return absl::InternalError(
        absl::StrCat("entry ", index, " is missing from the partial bundle"));
  }
  CLOVER_ASSIGN_OR_RETURN(std::string bytes,
                          ReadEntryBundle(bundle, kTileWidth));
  CLOVER_ASSIGN_OR_RETURN(auto entries, ParseEntryBundle(bytes));
  return std::string(entries[pos]);
}

}  // namespace clover::log
