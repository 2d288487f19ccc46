// Fuzzes ParseRecordJson (the body of PUT /v1/subjects/{id}) and the stored
// decoders (record plaintext, subject row, the v1 values the layout migration
// reads). Invariants: no crash or hang; an accepted record passes
// ValidateRecord and survives an encode/decode round trip unchanged; a decoded
// or migrated subject row re-encodes to the same bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "absl/strings/string_view.h"
#include "config/deployment.h"
#include "vault/layout_migration.h"
#include "vault/record.h"
#include "vault/record_parser.h"
#include "vault/subject_row.h"

namespace {

clover::FieldSpec Field(const char* name, clover::FieldFormat f,
                        clover::PseudonymMethod m) {
  clover::FieldSpec s;
  s.name = name;
  s.category = "contact";
  s.format = f;
  s.method = m;
  return s;
}

const clover::Schema& FuzzSchema() {
  static const clover::Schema* schema = [] {
    using F = clover::FieldFormat;
    using M = clover::PseudonymMethod;
    auto* s = new clover::Schema;
    s->fields = {Field("email", F::kEmail, M::kHmac),
                 Field("phone", F::kE164, M::kFf1),
                 Field("name", F::kText, M::kSiv),
                 Field("birthdate", F::kDate, M::kGeneralize),
                 Field("ip_address", F::kIp, M::kGeneralize),
                 Field("country", F::kCountry, M::kGeneralize),
                 Field("age", F::kInteger, M::kGeneralize),
                 Field("account", F::kDigits, M::kFf1),
                 Field("follows", F::kTextList, M::kHmac)};
    return s;
  }();
  return *schema;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  auto record = clover::vault::ParseRecordJson(FuzzSchema(), input);
  if (record.ok()) {
    if (!clover::vault::ValidateRecord(FuzzSchema(), *record).ok())
      std::abort();
    auto back =
        clover::vault::DecodeRecord(clover::vault::EncodeRecord(*record));
    if (!back.ok() || !(*back == *record)) std::abort();
  }
  // The same bytes as a stored (decrypted) record encoding must never crash the
  // decoder.
  auto decoded = clover::vault::DecodeRecord(input);
  if (decoded.ok()) {
    auto again =
        clover::vault::DecodeRecord(clover::vault::EncodeRecord(*decoded));
    if (!again.ok() || !(*again == *decoded)) std::abort();
  }
  auto row = clover::vault::SubjectRow::Decode(input);
  if (row.ok() && row->Encode() != input) std::abort();
  // The same bytes as the v1 values the layout migration reads: two length
  // bytes split them into metadata, wrapped-key entry and record. A row it
  // accepts must survive encode/decode unchanged.
  if (input.size() >= 2) {
    const size_t meta_size = static_cast<uint8_t>(input[0]);
    const size_t key_size = static_cast<uint8_t>(input[1]);
    absl::string_view rest = input.substr(2);
    absl::string_view meta = rest.substr(0, std::min(meta_size, rest.size()));
    rest.remove_prefix(meta.size());
    absl::string_view key = rest.substr(0, std::min(key_size, rest.size()));
    rest.remove_prefix(key.size());
    auto v1 = clover::vault::SubjectRowFromV1(
        "subject", meta, key.empty() ? std::nullopt : std::optional(key),
        rest.empty() ? std::nullopt : std::optional(rest));
    if (v1.ok()) {
      auto back = clover::vault::SubjectRow::Decode(v1->Encode());
      if (!back.ok() || back->Encode() != v1->Encode()) std::abort();
    }
  }
  return 0;
}
