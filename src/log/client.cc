#include "log/client.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "log/tile.h"

namespace clover::log {
namespace {

constexpr size_t kMaxCachedTiles = 256;

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return absl::InternalError(absl::StrCat(tmp, ": ", std::strerror(errno)));
  const bool ok = write(fd, contents.data(), contents.size()) ==
                      static_cast<ssize_t>(contents.size()) &&
                  fsync(fd) == 0;
  const int err = errno;
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat(path, ": ", std::strerror(ok ? errno : err)));
  }
  return absl::OkStatus();
}

}  // namespace

LogClient::LogClient(Fetcher fetch,
                     std::vector<std::unique_ptr<NoteVerifier>> verifiers,
                     std::string origin)
    : fetch_(std::move(fetch)),
      verifiers_(std::move(verifiers)),
      origin_(std::move(origin)) {
  for (const auto& v : verifiers_) verifier_ptrs_.push_back(v.get());
}

absl::StatusOr<std::unique_ptr<LogClient>> LogClient::Create(
    Fetcher fetch, std::vector<std::unique_ptr<NoteVerifier>> verifiers,
    std::string origin) {
  if (verifiers.empty())
    return absl::InvalidArgumentError("log client: no verifier keys");
  if (origin.empty()) origin = verifiers[0]->name();
  return std::unique_ptr<LogClient>(
      new LogClient(std::move(fetch), std::move(verifiers), std::move(origin)));
}

absl::StatusOr<VerifiedCheckpoint> LogClient::OpenCheckpointNote(
    absl::string_view note) const {
  CLOVER_ASSIGN_OR_RETURN(Checkpoint cp,
                          OpenCheckpoint(note, origin_, verifier_ptrs_));
  return VerifiedCheckpoint{std::move(cp), std::string(note)};
}

absl::StatusOr<VerifiedCheckpoint> LogClient::FetchCheckpoint() {
  CLOVER_ASSIGN_OR_RETURN(std::string note, fetch_("checkpoint"));
  auto cp = OpenCheckpointNote(note);
  if (!cp.ok()) {
    return absl::Status(
        cp.status().code(),
        absl::StrCat("checkpoint from the log: ", cp.status().message()));
  }
  return cp;
}

absl::StatusOr<Hash> LogClient::ReadNode(uint64_t tree_size, int height,
                                         uint64_t index) {
  const int level = height / kTileHeight;
  const int sub = height % kTileHeight;
  const uint64_t tile = (index << sub) / kTileWidth;
  const uint64_t pos = index - (tile << (kTileHeight - sub));
  const int width = tile < FullTileCount(tree_size, level)
                        ? kTileWidth
                        : PartialTileWidth(tree_size, level);
  if (width == 0)
    return absl::InternalError("proof needs a tile beyond the tree");
  const auto key = std::make_tuple(level, tile, width);
  auto it = tiles_.find(key);
  if (it == tiles_.end()) {
    const std::string path =
        FormatTilePath(TilePath{false, level, tile, width});
    CLOVER_ASSIGN_OR_RETURN(std::string bytes, fetch_(path));
    if (bytes.size() != static_cast<size_t>(width) * kHashSize) {
      return absl::DataLossError(absl::StrCat(
          path, ": ", bytes.size(), " bytes, want ", width * kHashSize));
    }
    CLOVER_ASSIGN_OR_RETURN(TileTree tree, TileTree::FromBytes(bytes, hasher_));
    if (tiles_.size() >= kMaxCachedTiles) tiles_.clear();
    it = tiles_.emplace(key, std::move(tree)).first;
  }
  const Hash* node = it->second.Node(sub, pos);
  if (node == nullptr) return absl::InternalError("tile lacks a needed node");
  return *node;
}

absl::Status LogClient::VerifyInclusion(const Checkpoint& checkpoint,
                                        uint64_t index,
                                        absl::string_view entry) {
  const uint64_t size = checkpoint.size;
  CLOVER_ASSIGN_OR_RETURN(auto proof,
                          InclusionProof(index, size, [&](int h, uint64_t i) {
                            return ReadNode(size, h, i);
                          }));
  return log::VerifyInclusion(index, size, hasher_.Leaf(entry), proof,
                              checkpoint.root);
}

absl::StatusOr<std::string> LogClient::FetchEntry(const Checkpoint& checkpoint,
                                                  uint64_t index) {
  if (index >= checkpoint.size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "entry ", index, " is beyond the tree size ", checkpoint.size));
  }
  const uint64_t bundle = index / kTileWidth;
  const int width = bundle < FullTileCount(checkpoint.size, 0)
                        ? kTileWidth
                        : PartialTileWidth(checkpoint.size, 0);
  const std::string path = FormatTilePath(TilePath{true, 0, bundle, width});
  CLOVER_ASSIGN_OR_RETURN(std::string bytes, fetch_(path));
  auto entries = ParseEntryBundle(bytes);
  if (!entries.ok() || entries->size() != static_cast<size_t>(width)) {
    return absl::DataLossError(absl::StrCat(path, ": malformed entry bundle"));
  }
  std::string entry((*entries)[index % kTileWidth]);
  CLOVER_RETURN_IF_ERROR(VerifyInclusion(checkpoint, index, entry));
  return entry;
}

absl::Status LogClient::VerifyConsistency(const Checkpoint& older,
                                          const Checkpoint& newer) {
  if (older.origin != newer.origin) {
    return absl::InvalidArgumentError("checkpoints of different logs");
  }
  if (newer.size < older.size) {
    return absl::DataLossError(absl::StrCat("split view: the tree shrank from ",
                                            older.size, " to ", newer.size,
                                            " entries"));
  }
  const uint64_t to = newer.size;
  CLOVER_ASSIGN_OR_RETURN(
      auto proof, ConsistencyProof(older.size, to, [&](int h, uint64_t i) {
        return ReadNode(to, h, i);
      }));
  absl::Status st =
      log::VerifyConsistency(older.size, to, older.root, newer.root, proof);
  if (!st.ok()) {
    return absl::DataLossError(
        absl::StrCat("split view: checkpoint of size ", newer.size,
                     " is not consistent with the one of size ", older.size,
                     " (", st.message(), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> LogClient::VerifyAllEntries(
    const Checkpoint& checkpoint) {
  RootAccumulator acc;
  const uint64_t bundles = (checkpoint.size + kTileWidth - 1) / kTileWidth;
  for (uint64_t b = 0; b < bundles; ++b) {
    const int width = b < FullTileCount(checkpoint.size, 0)
                          ? kTileWidth
                          : PartialTileWidth(checkpoint.size, 0);
    const std::string path = FormatTilePath(TilePath{true, 0, b, width});
    CLOVER_ASSIGN_OR_RETURN(std::string bytes, fetch_(path));
    auto entries = ParseEntryBundle(bytes);
    if (!entries.ok() || entries->size() != static_cast<size_t>(width)) {
      return absl::DataLossError(
          absl::StrCat(path, ": malformed entry bundle"));
    }
    for (absl::string_view e : *entries) acc.AppendLeafHash(hasher_.Leaf(e));
  }
  if (acc.Root() != checkpoint.root) {
    return absl::DataLossError(
        absl::StrCat("the entries do not hash to the checkpoint root of size ",
                     checkpoint.size));
  }
  return acc.size();
}

absl::StatusOr<VerifiedCheckpoint> UpdateTrustedCheckpoint(
    LogClient& client, const std::string& state_file) {
  CLOVER_ASSIGN_OR_RETURN(VerifiedCheckpoint latest, client.FetchCheckpoint());
  if (state_file.empty()) return latest;
  std::ifstream in(state_file, std::ios::binary);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    auto old = client.OpenCheckpointNote(ss.str());
    if (!old.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          state_file,
          ": saved checkpoint does not verify: ", old.status().message()));
    }
    CLOVER_RETURN_IF_ERROR(
        client.VerifyConsistency(old->checkpoint, latest.checkpoint));
  }
  CLOVER_RETURN_IF_ERROR(WriteFileAtomically(state_file, latest.note));
  return latest;
}

}  // namespace clover::log
