#include "audit/json_util.h"

#include "absl/strings/str_cat.h"
#include "core/canonical_json.h"
#include "core/json_parse.h"
#include "rapidjson/error/en.h"

namespace clover::audit {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

}  // namespace clover::audit
