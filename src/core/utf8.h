// Strict UTF-8 (RFC 3629): the one decoder every parser shares.
#ifndef CLOVER_CORE_UTF8_H_
#define CLOVER_CORE_UTF8_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace clover {

// Decodes the code point starting at s[i] (i < s.size()) into *cp and returns
// its length in bytes, or 0 when the bytes there are not strict UTF-8: a
// truncated or overlong sequence, a surrogate code point (U+D800..U+DFFF, the
// CESU-8 form of an unpaired "\udc00" escape) or one above U+10FFFF.
// Thread-safe (pure function).
[[nodiscard]] size_t DecodeUtf8(absl::string_view s, size_t i, uint32_t* cp);

// True when all of `s` is strict UTF-8 in the sense of DecodeUtf8.
[[nodiscard]] bool IsValidUtf8(absl::string_view s);

}  // namespace clover

#endif  // CLOVER_CORE_UTF8_H_
