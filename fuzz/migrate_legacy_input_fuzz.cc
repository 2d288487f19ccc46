// The first byte picks the parser: the mapping file (against the example
// schema), a CSV dump or NDJSON rows (against a fixed mapping). None may
// crash, hang or read out of bounds on any input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "migrate/mapping.h"
#include "migrate/source.h"

namespace {

const clover::Schema& TestSchema() {
  static const clover::Schema* s = [] {
    auto* schema = new clover::Schema;
    for (auto [name, format] :
         {std::pair{"email", clover::FieldFormat::kEmail},
          std::pair{"name", clover::FieldFormat::kText},
          std::pair{"follows", clover::FieldFormat::kTextList}}) {
      clover::FieldSpec f;
      f.name = name;
      f.format = format;
      schema->fields.push_back(f);
    }
    return schema;
  }();
  return *s;
}

const clover::migrate::LegacyMapping& TestMapping() {
  static const auto* m = new clover::migrate::LegacyMapping(
      *clover::migrate::ParseMapping("key: id\ncountry: cc\nfields:\n  email: "
                                     "mail\n  follows: f\n",
                                     "fuzz.yaml", TestSchema()));
  return *m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto count = [](clover::migrate::Row) { return absl::OkStatus(); };
  switch (data[0] % 3) {
    case 0:
      (void)clover::migrate::ParseMapping(text, "fuzz.yaml", TestSchema());
      break;
    case 1:
      (void)clover::migrate::ScanCsv(text, TestMapping(), count);
      break;
    default:
      (void)clover::migrate::ScanNdjson(text, TestMapping(), count);
      break;
  }
  return 0;
}
