// Fuzzes the version tag of client-supplied tokens (ParseSivToken, the token
// of POST /v1/detokenize, and TokenRootVersion) and the stored pseudonym root
// row decoder (vault/pseudonym_ring.h). Invariants: no crash or hang; an
// accepted siv token names a version in [1, kMaxRootVersion] and a tagged one
// re-spells its tag exactly; a decoded row re-encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "vault/pseudonym_ring.h"
#include "vault/token_keys.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view in(reinterpret_cast<const char*>(data), size);
  auto parts = clover::vault::ParseSivToken(absl::StrCat("stk_", in));
  if (parts.ok()) {
    if (parts->version < 1 || parts->version > clover::vault::kMaxRootVersion) {
      std::abort();
    }
    if (parts->version != clover::vault::kFileRootVersion &&
        !absl::StartsWith(in, absl::StrCat("v", parts->version, "."))) {
      std::abort();
    }
  }
  absl::string_view body;
  auto version = clover::vault::TokenRootVersion(in, &body);
  if (version.ok() && body.size() > in.size()) std::abort();
  auto row =
      clover::vault::PseudonymRootRow::Decode("pseudonym-root/00000001", in);
  if (row.ok() && row->Encode() != in) std::abort();
  return 0;
}
