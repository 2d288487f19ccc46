#include "vault/record.h"

#include <cstdint>

#include "core/varint.h"

namespace clover::vault {
namespace {

void PutString(absl::string_view s, std::string* out) {
  AppendVarint64(s.size(), out);
  out->append(s.data(), s.size());
}

class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}
  bool Varint(uint64_t* v) { return ReadVarint64(&in_, v); }
  bool String(std::string* s) {
    uint64_t len = 0;
    if (!Varint(&len) || len > in_.size()) return false;
    s->assign(in_.data(), len);
    in_.remove_prefix(len);
    return true;
  }
  bool Byte(uint8_t* b) {
    if (in_.empty()) return false;
    *b = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool done() const { return in_.empty(); }
  size_t remaining() const { return in_.size(); }

 private:
  absl::string_view in_;
};

constexpr uint8_t kRecordEncodingVersion = 1;

}  // namespace

const FieldValue* Record::Find(absl::string_view name) const {
  for (const FieldValue& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string EncodeRecord(const Record& record) {
  std::string out;
  out.push_back(static_cast<char>(kRecordEncodingVersion));
  PutString(record.country, &out);
  AppendVarint64(record.fields.size(), &out);
  for (const FieldValue& f : record.fields) {
    PutString(f.name, &out);
    out.push_back(f.is_list ? 1 : 0);
    if (f.is_list) {
      AppendVarint64(f.items.size(), &out);
      for (const std::string& item : f.items) PutString(item, &out);
    } else {
      PutString(f.value, &out);
    }
  }
  return out;
}

absl::StatusOr<Record> DecodeRecord(absl::string_view bytes) {
  const absl::Status bad = absl::DataLossError("record encoding is malformed");
  Reader r(bytes);
  uint8_t version = 0;
  if (!r.Byte(&version) || version != kRecordEncodingVersion) return bad;
  Record record;
  uint64_t count = 0;
  if (!r.String(&record.country) || !r.Varint(&count) || count > r.remaining())
    return bad;
  record.fields.resize(count);
  for (FieldValue& f : record.fields) {
    uint8_t kind = 0;
    if (!r.String(&f.name) || !r.Byte(&kind) || kind > 1) return bad;
    f.is_list = kind == 1;
    if (f.is_list) {
      uint64_t n = 0;
      if (!r.Varint(&n) || n > r.remaining()) return bad;
      f.items.resize(n);
      for (std::string& item : f.items) {
        if (!r.String(&item)) return bad;
      }
    } else if (!r.String(&f.value)) {
      return bad;
    }
  }
  if (!r.done()) return bad;
  return record;
}

}  // namespace clover::vault
