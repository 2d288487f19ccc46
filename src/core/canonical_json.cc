#include "core/canonical_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/utf8.h"
#include "rapidjson/encodedstream.h"
#include "rapidjson/error/en.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"

namespace clover {
namespace {

// Decodes UTF-8 into UTF-16 code units, the order RFC 8785 sorts keys by.
std::u16string ToUtf16(absl::string_view s) {
  std::u16string out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    uint32_t cp;
    int len;
    if (c < 0x80) {
      cp = c, len = 1;
    } else if ((c >> 5) == 0x6) {
      cp = c & 0x1f, len = 2;
    } else if ((c >> 4) == 0xe) {
      cp = c & 0x0f, len = 3;
    } else {
      cp = c & 0x07, len = 4;
    }
    for (int k = 1; k < len && i + k < s.size(); ++k)
      cp = (cp << 6) | (s[i + k] & 0x3f);
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xd800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xdc00 + (cp & 0x3ff)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

absl::Status AppendNumber(const rapidjson::Value& v, std::string* out) {
  constexpr double kMaxExact = 9007199254740992.0;  // 2^53
  if (v.IsInt64() &&
      std::fabs(static_cast<double>(v.GetInt64())) <= kMaxExact) {
    absl::StrAppend(out, v.GetInt64());
    return absl::OkStatus();
  }
  if (v.IsUint64() && static_cast<double>(v.GetUint64()) <= kMaxExact) {
    absl::StrAppend(out, v.GetUint64());
    return absl::OkStatus();
  }
  double d = v.GetDouble();
  if (!std::isfinite(d))
    return absl::InvalidArgumentError("JSON number is not finite");
  if (d == 0) {
    out->push_back('0');
    return absl::OkStatus();
  }
  if (d < 0) {
    out->push_back('-');
    d = -d;
  }
  // Shortest round-trip digits and exponent, then ECMAScript Number::toString
  // layout.
  char buf[64];
  auto res =
      std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  absl::string_view sci(buf, res.ptr - buf);
  size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  int exp10 = 0;
  std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+'),
                  sci.data() + sci.size(), exp10);
  int k = static_cast<int>(digits.size());
  int n = exp10 + 1;
  if (k <= n && n <= 21) {
    out->append(digits);
    out->append(n - k, '0');
  } else if (0 < n && n <= 21) {
    out->append(digits, 0, n);
    out->push_back('.');
    out->append(digits, n);
  } else if (-6 < n && n <= 0) {
    out->append("0.");
    out->append(-n, '0');
    out->append(digits);
  } else {
    out->push_back(digits[0]);
    if (k > 1) {
      out->push_back('.');
      out->append(digits, 1);
    }
    out->push_back('e');
    out->push_back(n - 1 >= 0 ? '+' : '-');
    absl::StrAppend(out, std::abs(n - 1));
  }
  return absl::OkStatus();
}

absl::Status Append(const rapidjson::Value& v, std::string* out,
                    int depth = 0) {
  // Serialising recurses: bound the nesting so that no input can exhaust the
  // stack.
  if (depth > 512)
    return absl::InvalidArgumentError("JSON nested deeper than 512 levels");
  switch (v.GetType()) {
    case rapidjson::kNullType:
      out->append("null");
      return absl::OkStatus();
    case rapidjson::kFalseType:
      out->append("false");
      return absl::OkStatus();
    case rapidjson::kTrueType:
      out->append("true");
      return absl::OkStatus();
    case rapidjson::kNumberType:
      return AppendNumber(v, out);
    case rapidjson::kStringType: {
      const absl::string_view s(v.GetString(), v.GetStringLength());
      // RapidJSON decodes an unpaired "\udc00" escape into CESU-8 bytes that no
      // strict reader (the auditor's included) would accept back.
      if (!IsValidUtf8(s))
        return absl::InvalidArgumentError("JSON string is not valid UTF-8");
      AppendJsonString(s, out);
      return absl::OkStatus();
    }
    case rapidjson::kArrayType: {
      out->push_back('[');
      bool first = true;
      for (const auto& item : v.GetArray()) {
        if (!first) out->push_back(',');
        first = false;
        CLOVER_RETURN_IF_ERROR(Append(item, out, depth + 1));
      }
      out->push_back(']');
      return absl::OkStatus();
    }
    case rapidjson::kObjectType: {
      struct Member {
        std::u16string key16;
        const rapidjson::Value* name;
        const rapidjson::Value* value;
      };
      std::vector<Member> members;
      members.reserve(v.MemberCount());
      for (const auto& m : v.GetObject()) {
        if (!IsValidUtf8(absl::string_view(m.name.GetString(),
                                           m.name.GetStringLength())))
          return absl::InvalidArgumentError("JSON key is not valid UTF-8");
        members.push_back({ToUtf16(absl::string_view(m.name.GetString(),
                                                     m.name.GetStringLength())),
                           &m.name, &m.value});
      }
      std::sort(
          members.begin(), members.end(),
          [](const Member& a, const Member& b) { return a.key16 < b.key16; });
      out->push_back('{');
      for (size_t i = 0; i < members.size(); ++i) {
        if (i > 0) {
          if (members[i].key16 == members[i - 1].key16) {
            return absl::InvalidArgumentError(
                "JSON object has a duplicate key");
          }
          out->push_back(',');
        }
        AppendJsonString(absl::string_view(members[i].name->GetString(),
                                           members[i].name->GetStringLength()),
                         out);
        out->push_back(':');
        CLOVER_RETURN_IF_ERROR(Append(*members[i].value, out, depth + 1));
      }
      out->push_back('}');
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown JSON type");
}

}  // namespace

namespace {

// True if any of the eight bytes of `x` is below 0x20, '"' or '\\'. Standard
// SWAR tests (a byte-wise "has zero" and "has less than"); they may report a
// byte beside a byte >= 0x80 as a hit, never miss one, and a hit only sends
// those eight bytes through the exact byte loop.
bool MayNeedEscape(uint64_t x) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const uint64_t control = (x - kOnes * 0x20) & ~x & kHigh;
  const uint64_t q = x ^ (kOnes * static_cast<uint8_t>('"'));
  const uint64_t quote = (q - kOnes) & ~q & kHigh;
  const uint64_t b = x ^ (kOnes * static_cast<uint8_t>('\\'));
  const uint64_t backslash = (b - kOnes) & ~b & kHigh;
  return (control | quote | backslash) != 0;
}

}  // namespace

bool JsonKeyLess(absl::string_view a, absl::string_view b) {
  // UTF-8 byte order is code point order, which differs from UTF-16 order
  // only where a 4-byte sequence (a surrogate pair) meets U+E000-U+FFFF.
  const auto ascii = [](absl::string_view s) {
    for (char c : s)
      if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
  };
  if (ascii(a) && ascii(b)) return a < b;
  return ToUtf16(a) < ToUtf16(b);
}

void AppendJsonString(absl::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  // Runs of characters that need no escape (nearly all of them) are copied
  // whole; they are found eight bytes at a time.
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((i & 7) == 0) {
      while (i + 8 <= s.size()) {
        uint64_t word;
        std::memcpy(&word, s.data() + i, sizeof word);
        if (MayNeedEscape(word)) break;
        i += 8;
      }
      if (i >= s.size()) break;
    }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0xf]);
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

absl::StatusOr<std::string> CanonicalJson(const rapidjson::Value& value) {
  std::string out;
  CLOVER_RETURN_IF_ERROR(Append(value, &out));
  return out;
}

namespace {

// Builds a Document from SAX events, converting numbers itself: RapidJSON's own
// full-precision conversion has undefined behaviour on inputs such as "0e121",
// and its fast path is not correctly rounded. strtod is both.
class NumberConvertingHandler {
 public:
  explicit NumberConvertingHandler(rapidjson::Document& doc) : doc_(doc) {}
  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(int64_t i) { return doc_.Int64(i); }
  bool Uint64(uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  bool RawNumber(const char* str, rapidjson::SizeType len, bool) {
    std::string text(str, len);
    if (text.find_first_of(".eE") == std::string::npos) {
      int64_t i = 0;
      uint64_t u = 0;
      if (absl::SimpleAtoi(text, &i)) return doc_.Int64(i);
      if (absl::SimpleAtoi(text, &u)) return doc_.Uint64(u);
    }
    return doc_.Double(std::strtod(text.c_str(), nullptr));
  }
  bool String(const char* str, rapidjson::SizeType len, bool copy) {
    return doc_.String(str, len, copy);
  }
  bool StartObject() { return doc_.StartObject(); }
  bool Key(const char* str, rapidjson::SizeType len, bool copy) {
    return doc_.Key(str, len, copy);
  }
  bool EndObject(rapidjson::SizeType n) { return doc_.EndObject(n); }
  bool StartArray() { return doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) { return doc_.EndArray(n); }

 private:
  rapidjson::Document& doc_;
};

}  // namespace

absl::StatusOr<std::string> CanonicalizeJson(absl::string_view json) {
  rapidjson::Document doc;
  rapidjson::Reader reader;
  auto generate = [&](rapidjson::Document& d) {
    NumberConvertingHandler handler(d);
    rapidjson::MemoryStream ms(json.data(), json.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream>
        in(ms);
    return !reader
                .Parse<rapidjson::kParseValidateEncodingFlag |
                       rapidjson::kParseNumbersAsStringsFlag |
                       rapidjson::kParseIterativeFlag>(in, handler)
                .IsError();
  };
  doc.Populate(generate);
  if (reader.HasParseError()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON at byte ", reader.GetErrorOffset(), ": ",
                     rapidjson::GetParseError_En(reader.GetParseErrorCode())));
  }
  return CanonicalJson(doc);
}

}  // namespace clover
