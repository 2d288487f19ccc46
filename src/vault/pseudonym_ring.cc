#include "vault/pseudonym_ring.h"

#include <algorithm>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/big_endian.h"
#include "core/status_macros.h"
#include "crypto/constant_time.h"
#include "crypto/secret_key_file.h"

namespace clover::vault {
namespace {

constexpr char kRowFormat = 0x01;
constexpr size_t kFixedRowBytes = 1 + 4 + 8 + 8 + 1 + 2;
constexpr char kTokenExpiredPayload[] = "clover.dev/token-expired";

std::string WrapContext(uint32_t version) {
  return absl::StrCat("clover/pseudonym-root/v", version);
}

std::string RowKey(uint32_t version) {
  return absl::StrFormat("%s%08u", kPseudonymRootRowPrefix, version);
}

absl::string_view KeyBytes(const crypto::SecretKey& k) {
  return absl::string_view(reinterpret_cast<const char*>(k.data()), k.size());
}

}  // namespace

std::string PseudonymRootRow::Key() const { return RowKey(version); }

std::string PseudonymRootRow::Encode() const {
  std::string out;
  out.push_back(kRowFormat);
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((version >> shift) & 0xff));
  }
  AppendBigEndian64(static_cast<uint64_t>(created_micros), &out);
  AppendBigEndian64(static_cast<uint64_t>(retire_at_micros), &out);
  out.push_back(destroyed ? 1 : 0);
  out.push_back(static_cast<char>((wrapped_key.size() >> 8) & 0xff));
  out.push_back(static_cast<char>(wrapped_key.size() & 0xff));
  out.append(wrapped_key);
  return out;
}

absl::StatusOr<PseudonymRootRow> PseudonymRootRow::Decode(
    absl::string_view key, absl::string_view in) {
  auto bad = [&] {
    return absl::DataLossError(
        absl::StrCat("malformed pseudonym root row ", key));
  };
  if (in.size() < kFixedRowBytes || in[0] != kRowFormat) return bad();
  PseudonymRootRow row;
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  row.version = (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16) |
                (uint32_t{p[3]} << 8) | p[4];
  row.created_micros = static_cast<int64_t>(ReadBigEndian64(in.data() + 5));
  row.retire_at_micros = static_cast<int64_t>(ReadBigEndian64(in.data() + 13));
  if (p[21] > 1) return bad();
  row.destroyed = p[21] == 1;
  size_t len = (size_t{p[22]} << 8) | p[23];
  if (in.size() != kFixedRowBytes + len) return bad();
  row.wrapped_key = std::string(in.substr(kFixedRowBytes));
  if (row.version == 0 || row.version > kMaxRootVersion || row.Key() != key) {
    return bad();
  }
  return row;
}

absl::string_view ToString(PseudonymKeyState state) {
  switch (state) {
    case PseudonymKeyState::kCurrent:
      return "current";
    case PseudonymKeyState::kOverlap:
      return "overlap";
    case PseudonymKeyState::kRetired:
      return "retired";
  }
  return "unknown";
}

absl::Status TokenExpiredError(uint32_t version) {
  absl::Status s = absl::FailedPreconditionError(absl::StrCat(
      "the token was made under pseudonym key version ", version,
      ", which is retired (its overlap window has ended); ask for a new "
      "token"));
  s.SetPayload(kTokenExpiredPayload, absl::Cord("1"));
  return s;
}

bool IsTokenExpired(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition &&
         status.GetPayload(kTokenExpiredPayload).has_value();
}

absl::StatusOr<std::unique_ptr<PseudonymRing>> PseudonymRing::Open(
    StorageDriver& storage, KeyEncryptionKey& kek, TokenKeyRing& keys,
    const Clock& clock, absl::Duration refresh) {
  auto ring = std::unique_ptr<PseudonymRing>(
      new PseudonymRing(storage, kek, keys, clock, refresh));
  CLOVER_RETURN_IF_ERROR(ring->Reload());
  return ring;
}

absl::StatusOr<std::vector<PseudonymRootRow>> PseudonymRing::ReadRows() {
  // Versions are contiguous from 1 (Rotate writes version 1's row with the
  // first rotation and only ever adds current + 1), so point reads find them
  // without scanning the token table.
  std::vector<PseudonymRootRow> rows;
  for (uint32_t v = kFileRootVersion; v <= kMaxRootVersion; ++v) {
    std::string key = RowKey(v), value;
    CLOVER_ASSIGN_OR_RETURN(bool found,
                            storage_.Get(Table::kTokens, key, &value));
    if (!found) break;
    CLOVER_ASSIGN_OR_RETURN(PseudonymRootRow row,
                            PseudonymRootRow::Decode(key, value));
    rows.push_back(std::move(row));
  }
  return rows;
}

PseudonymKeyState PseudonymRing::StateOf(const PseudonymRootRow& row,
                                         uint32_t current,
                                         absl::Time now) const {
  if (row.version == current) return PseudonymKeyState::kCurrent;
  if (row.destroyed || row.retire_at_micros == 0 ||
      now >= absl::FromUnixMicros(row.retire_at_micros)) {
    return PseudonymKeyState::kRetired;
  }
  return PseudonymKeyState::kOverlap;
}

absl::Status PseudonymRing::Reload() {
  absl::MutexLock lock(&mu_);
  return ReloadLocked();
}

absl::Status PseudonymRing::ReloadLocked() {
  CLOVER_ASSIGN_OR_RETURN(std::vector<PseudonymRootRow> rows, ReadRows());
  const uint32_t current =
      rows.empty() ? kFileRootVersion : rows.back().version;
  const absl::Time now = clock_.Now();
  for (const PseudonymRootRow& row : rows) {
    if (row.version == kFileRootVersion) continue;  // held from the file
    if (StateOf(row, current, now) == PseudonymKeyState::kRetired) {
      keys_.Forget(row.version);
      continue;
    }
    if (keys_.Holds(row.version)) continue;
    if (row.wrapped_key.empty()) {
      return absl::DataLossError(absl::StrCat("pseudonym root row ", row.Key(),
                                              " has no wrapped key"));
    }
    UnwrapJustification why{"vault", "pseudonym-root", row.Key()};
    CLOVER_ASSIGN_OR_RETURN(
        crypto::SecretKey root,
        kek_.Unwrap(row.wrapped_key, WrapContext(row.version), why));
    keys_.AddRoot(row.version, root);
    crypto::SecureWipe(root.data(), root.size());
  }
  CLOVER_RETURN_IF_ERROR(keys_.SetCurrent(current));
  if (!rows.empty() && rows.front().version == kFileRootVersion &&
      StateOf(rows.front(), current, now) == PseudonymKeyState::kRetired) {
    keys_.Forget(kFileRootVersion);
  }
  rows_ = std::move(rows);
  current_ = current;
  loaded_micros_.store(absl::ToUnixMicros(now));
  return absl::OkStatus();
}

absl::Status PseudonymRing::MaybeRefresh() {
  if (refresh_ <= absl::ZeroDuration()) return absl::OkStatus();
  const int64_t now = absl::ToUnixMicros(clock_.Now());
  int64_t loaded = loaded_micros_.load();
  if (now - loaded < absl::ToInt64Microseconds(refresh_)) {
    return absl::OkStatus();
  }
  // One thread looks; the others go on with the view they have.
  if (!loaded_micros_.compare_exchange_strong(loaded, now)) {
    return absl::OkStatus();
  }
  std::string value;
  CLOVER_ASSIGN_OR_RETURN(
      bool found,
      storage_.Get(Table::kTokens, RowKey(keys_.current() + 1), &value));
  if (!found) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  return ReloadLocked();
}

absl::StatusOr<std::shared_ptr<const TokenKeys>> PseudonymRing::Current(
    absl::string_view destination, absl::string_view purpose) {
  CLOVER_RETURN_IF_ERROR(MaybeRefresh());
  return keys_.Get(destination, purpose);
}

absl::StatusOr<std::shared_ptr<const TokenKeys>> PseudonymRing::ForVersion(
    uint32_t version, absl::string_view destination,
    absl::string_view purpose) {
  CLOVER_RETURN_IF_ERROR(MaybeRefresh());
  if (version > keys_.current()) {
    // Another node may have just rotated. One point read tells; the whole
    // ring is re-read only if there is a newer version, so a token naming
    // an invented version costs what an unknown token does.
    std::string value;
    CLOVER_ASSIGN_OR_RETURN(
        bool newer,
        storage_.Get(Table::kTokens, RowKey(keys_.current() + 1), &value));
    if (newer) {
      absl::MutexLock lock(&mu_);
      CLOVER_RETURN_IF_ERROR(ReloadLocked());
    }
  }
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    if (rows_.empty()) {
      if (version != kFileRootVersion) {
        return absl::NotFoundError(
            "the token names a pseudonym key version this region never had");
      }
    } else if (version > current_) {
      return absl::NotFoundError(
          "the token names a pseudonym key version this region never had");
    } else {
      const PseudonymRootRow& row = rows_[version - 1];
      if (StateOf(row, current_, now) == PseudonymKeyState::kRetired) {
        keys_.Forget(version);
        return TokenExpiredError(version);
      }
    }
  }
  return keys_.GetVersion(version, destination, purpose);
}

std::vector<uint32_t> PseudonymRing::LiveVersions() {
  // A refresh error leaves the view as it was: the versions listed are still
  // the ones this node resolves.
  MaybeRefresh().IgnoreError();
  absl::MutexLock lock(&mu_);
  std::vector<uint32_t> out = {current_};
  const absl::Time now = clock_.Now();
  for (auto it = rows_.rbegin(); it != rows_.rend(); ++it) {
    if (StateOf(*it, current_, now) == PseudonymKeyState::kOverlap) {
      out.push_back(it->version);
    }
  }
  return out;
}

absl::StatusOr<uint32_t> PseudonymRing::Rotate(
    absl::Duration overlap,
    const std::function<absl::Status(uint32_t, uint32_t, absl::Time)>&
        announce) {
  if (overlap < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the overlap window cannot be negative");
  }
  absl::MutexLock lock(&mu_);
  CLOVER_RETURN_IF_ERROR(ReloadLocked());
  const absl::Time now = clock_.Now();
  const uint32_t next = current_ + 1;
  if (next > kMaxRootVersion) {
    return absl::ResourceExhaustedError("no pseudonym key version is left");
  }
  CLOVER_ASSIGN_OR_RETURN(crypto::SecretKey root, crypto::GenerateSecretKey());
  absl::StatusOr<std::string> wrapped =
      kek_.Wrap(KeyBytes(root), WrapContext(next));
  crypto::SecureWipe(root.data(), root.size());
  if (!wrapped.ok()) return wrapped.status();

  PseudonymRootRow superseded;
  if (rows_.empty()) {
    superseded.version = kFileRootVersion;  // the file, first recorded now
  } else {
    superseded = rows_.back();
  }
  // 0 means "no deadline" in a row.
  // Whole milliseconds: the deadline as logged (RFC 3339 with millis).
  superseded.retire_at_micros =
      std::max<int64_t>(1, absl::ToUnixMillis(now + overlap) * 1000);
  if (announce) {
    CLOVER_RETURN_IF_ERROR(
        announce(next, superseded.version,
                 absl::FromUnixMicros(superseded.retire_at_micros)));
  }
  PseudonymRootRow row;
  row.version = next;
  row.created_micros = absl::ToUnixMicros(now);
  row.wrapped_key = *std::move(wrapped);
  WriteBatch batch;
  batch.Put(Table::kTokens, superseded.Key(), superseded.Encode());
  batch.Put(Table::kTokens, row.Key(), row.Encode());
  // Only if no other node made this version meanwhile (regional store).
  CLOVER_ASSIGN_OR_RETURN(
      bool written,
      storage_.WriteIf(Table::kTokens, row.Key(), std::nullopt, batch));
  CLOVER_RETURN_IF_ERROR(ReloadLocked());
  (void)written;  // lost the race: the winner's version is current now
  return current_;
}

absl::StatusOr<std::vector<uint32_t>> PseudonymRing::DestroyRetired() {
  absl::MutexLock lock(&mu_);
  CLOVER_RETURN_IF_ERROR(ReloadLocked());
  const absl::Time now = clock_.Now();
  std::vector<uint32_t> destroyed;
  for (const PseudonymRootRow& row : rows_) {
    if (row.destroyed ||
        StateOf(row, current_, now) != PseudonymKeyState::kRetired) {
      continue;
    }
    PseudonymRootRow gone = row;
    gone.destroyed = true;
    gone.wrapped_key.clear();
    CLOVER_ASSIGN_OR_RETURN(
        bool swapped, storage_.CompareAndPut(Table::kTokens, row.Key(),
                                             row.Encode(), gone.Encode()));
    keys_.Forget(row.version);
    if (swapped) destroyed.push_back(row.version);
  }
  CLOVER_RETURN_IF_ERROR(ReloadLocked());
  return destroyed;
}

absl::StatusOr<int> PseudonymRing::Rewrap() {
  absl::MutexLock lock(&mu_);
  CLOVER_RETURN_IF_ERROR(ReloadLocked());
  int rewrapped = 0;
  for (const PseudonymRootRow& row : rows_) {
    if (row.wrapped_key.empty() ||
        WrappedKeyKekId(row.wrapped_key) == kek_.id()) {
      continue;
    }
    UnwrapJustification why{"vault", "pseudonym-root", row.Key()};
    CLOVER_ASSIGN_OR_RETURN(
        crypto::SecretKey root,
        kek_.Unwrap(row.wrapped_key, WrapContext(row.version), why));
    absl::StatusOr<std::string> wrapped =
        kek_.Wrap(KeyBytes(root), WrapContext(row.version));
    crypto::SecureWipe(root.data(), root.size());
    if (!wrapped.ok()) return wrapped.status();
    PseudonymRootRow moved = row;
    moved.wrapped_key = *std::move(wrapped);
    CLOVER_ASSIGN_OR_RETURN(
        bool swapped, storage_.CompareAndPut(Table::kTokens, row.Key(),
                                             row.Encode(), moved.Encode()));
    if (swapped) ++rewrapped;
  }
  CLOVER_RETURN_IF_ERROR(ReloadLocked());
  return rewrapped;
}

absl::StatusOr<std::vector<PseudonymVersionInfo>> PseudonymRing::Versions() {
  absl::MutexLock lock(&mu_);
  CLOVER_RETURN_IF_ERROR(ReloadLocked());
  const absl::Time now = clock_.Now();
  std::vector<PseudonymVersionInfo> out;
  if (rows_.empty()) {
    PseudonymVersionInfo file;  // the file, current
    file.version = kFileRootVersion;
    out.push_back(file);
    return out;
  }
  for (const PseudonymRootRow& row : rows_) {
    PseudonymVersionInfo info;
    info.version = row.version;
    info.state = StateOf(row, current_, now);
    if (row.created_micros != 0) {
      info.created = absl::FromUnixMicros(row.created_micros);
    }
    if (row.retire_at_micros != 0) {
      info.retire_at = absl::FromUnixMicros(row.retire_at_micros);
    }
    info.destroyed = row.destroyed;
    out.push_back(info);
  }
  return out;
}

absl::StatusOr<std::vector<Ff1Candidate>> ReverseFf1UnderRing(
    const Pseudonymizer& pseudonymizer, PseudonymRing& ring,
    const FieldSpec& field, absl::string_view token,
    absl::string_view destination, absl::string_view purpose) {
  std::vector<Ff1Candidate> out;
  for (uint32_t version : ring.LiveVersions()) {
    absl::StatusOr<std::shared_ptr<const TokenKeys>> keys =
        ring.ForVersion(version, destination, purpose);
    if (IsTokenExpired(keys.status())) continue;  // retired meanwhile
    if (!keys.ok()) return keys.status();
    CLOVER_ASSIGN_OR_RETURN(std::string value,
                            pseudonymizer.ReverseFf1(field, token, **keys));
    out.push_back({version, std::move(value)});
  }
  return out;
}

}  // namespace clover::vault
