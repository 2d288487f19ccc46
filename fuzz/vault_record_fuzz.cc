// Fuzzes ParseRecordJson (the body of PUT /v1/subjects/{id}) and the stored
// decoders (record plaintext, subject row). Invariants: no crash or hang; an
// accepted record passes ValidateRecord and survives an encode/decode round
// trip unchanged; a decoded subject row re-encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/config.h"
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
  std::string_view input(reinterpret_cast<const char*>(data), size);
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
  return 0;
}
