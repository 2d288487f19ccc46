#include "vault/subject_row.h"

#include <cstring>

#include "absl/status/status.h"
#include "core/big_endian.h"

namespace clover::vault {
namespace {

constexpr uint8_t kFormat = 2;
constexpr size_t kFixedSize = 1 + 1 + 8 + 8 + 1;

absl::Status Malformed() {
  return absl::DataLossError("subject row is malformed");
}

}  // namespace

std::string SubjectRow::Encode() const {
  std::string out;
  out.reserve(kFixedSize + jurisdiction.size() + kHandleSize + 2 +
              wrapped_key.size() + sealed_record.size());
  out.push_back(static_cast<char>(kFormat));
  out.push_back(static_cast<char>(state));
  AppendBigEndian64(revision, &out);
  AppendBigEndian64(static_cast<uint64_t>(micros), &out);
  out.push_back(static_cast<char>(jurisdiction.size()));
  out.append(jurisdiction);
  if (!live()) return out;
  out.append(reinterpret_cast<const char*>(handle.data()), handle.size());
  out.push_back(static_cast<char>(wrapped_key.size() >> 8));
  out.push_back(static_cast<char>(wrapped_key.size() & 0xff));
  out.append(wrapped_key);
  out.append(sealed_record);
  return out;
}

std::string SubjectRow::LivePrefix() {
  return std::string{static_cast<char>(kFormat),
                     static_cast<char>(State::kLive)};
}

absl::StatusOr<SubjectRow::State> SubjectRow::PeekState(absl::string_view in) {
  if (in.size() < kFixedSize || static_cast<uint8_t>(in[0]) != kFormat) {
    return Malformed();
  }
  const uint8_t state = static_cast<uint8_t>(in[1]);
  if (state != static_cast<uint8_t>(State::kLive) &&
      state != static_cast<uint8_t>(State::kErased)) {
    return Malformed();
  }
  return static_cast<State>(state);
}

absl::StatusOr<SubjectRow> SubjectRow::Decode(absl::string_view in) {
  absl::StatusOr<State> state = PeekState(in);
  if (!state.ok()) return state.status();
  SubjectRow row;
  row.state = *state;
  row.revision = ReadBigEndian64(in.data() + 2);
  row.micros = static_cast<int64_t>(ReadBigEndian64(in.data() + 10));
  const size_t jurisdiction_size = static_cast<uint8_t>(in[18]);
  in.remove_prefix(kFixedSize);
  if (in.size() < jurisdiction_size) return Malformed();
  row.jurisdiction.assign(in.data(), jurisdiction_size);
  in.remove_prefix(jurisdiction_size);
  if (!row.live()) {
    if (!in.empty()) return Malformed();
    return row;
  }
  if (in.size() < kHandleSize + 2) return Malformed();
  std::memcpy(row.handle.data(), in.data(), kHandleSize);
  const size_t wrapped_size =
      (static_cast<size_t>(static_cast<uint8_t>(in[kHandleSize])) << 8) |
      static_cast<uint8_t>(in[kHandleSize + 1]);
  in.remove_prefix(kHandleSize + 2);
  if (in.size() < wrapped_size || wrapped_size == 0) return Malformed();
  row.wrapped_key.assign(in.data(), wrapped_size);
  in.remove_prefix(wrapped_size);
  if (in.empty()) return Malformed();
  row.sealed_record.assign(in.data(), in.size());
  return row;
}

}  // namespace clover::vault
