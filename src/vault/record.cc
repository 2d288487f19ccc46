#include "vault/record.h"

#include <cstdint>

namespace clover::vault {
namespace {

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutString(std::string_view s, std::string* out) {
  PutVarint(s.size(), out);
  out->append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      auto b = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
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
  std::string_view in_;
};

constexpr uint8_t kRecordEncodingVersion = 1;

}  // namespace

const FieldValue* Record::Find(std::string_view name) const {
  for (const FieldValue& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string EncodeRecord(const Record& record) {
  std::string out;
  out.push_back(static_cast<char>(kRecordEncodingVersion));
  PutString(record.country, &out);
  PutVarint(record.fields.size(), &out);
  for (const FieldValue& f : record.fields) {
    PutString(f.name, &out);
    out.push_back(f.is_list ? 1 : 0);
    if (f.is_list) {
      PutVarint(f.items.size(), &out);
      for (const std::string& item : f.items) PutString(item, &out);
    } else {
      PutString(f.value, &out);
    }
  }
  return out;
}

absl::StatusOr<Record> DecodeRecord(std::string_view bytes) {
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
