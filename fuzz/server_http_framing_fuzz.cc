// Fuzzes HTTP/1.1 request framing as the server runs it: the bytes after the
// first are a connection's input stream, fed to the server's own RequestParser
// and ParseBuffered (server/http_request_parser.h) in pieces of data[0] bytes
// (0: all at once), one parser per request as the server does, until a parse
// error (the server answers 4xx and closes), a request that closes the
// connection, or the end of the input.
//
// Each request the parser accepts is checked against an independent strict
// reading of RFC 9112 (§5.2, §6.1, §6.3, §7.1) written here:
//   - the reference must accept its framing: one Transfer-Encoding that is
//     exactly `chunked` (HTTP/1.1) or one Content-Length of digits, never
//     both, no obs-fold;
//   - it must end where the reference says (the next request starts at the
//     same byte: no desync, so a body can never become a request);
//   - its body must be the reference's body (Content-Length bytes, or the
//     chunk data joined) and its header fields exactly the header section's
//     (trailer fields dropped).
// A rejected request must fail with a Beast HTTP error (which the server
// answers with 400/413/431), never anything else.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "server/http_request_parser.h"

namespace {

namespace http = boost::beast::http;
using clover::server::internal::ParseBuffered;
using clover::server::internal::ParseStep;
using clover::server::internal::RequestParser;

constexpr size_t kHeaderLimit = 2048;
constexpr size_t kBodyLimit = 4096;

#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

struct Reference {
  size_t length = 0;  // bytes of the whole request
  std::string body;
  size_t header_fields = 0;
};

absl::string_view TrimOws(absl::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool AllDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

// The strict reading of one request at the start of `in`; nullopt if its
// framing is ambiguous or invalid, or it is incomplete.
std::optional<Reference> Strict(absl::string_view in) {
  size_t header_end = in.find("\r\n\r\n");
  if (header_end == absl::string_view::npos) return std::nullopt;
  absl::string_view head = in.substr(0, header_end);
  size_t line_end = head.find("\r\n");
  absl::string_view request_line = head.substr(0, line_end);
  const bool http10 = absl::EndsWith(request_line, " HTTP/1.0");
  int te = 0, cl = 0;
  absl::string_view te_value, cl_value;
  Reference ref;
  while (line_end != absl::string_view::npos) {
    size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    absl::string_view line = head.substr(
        start, line_end == absl::string_view::npos ? absl::string_view::npos
                                                   : line_end - start);
    if (line.empty() || line[0] == ' ' || line[0] == '\t') return std::nullopt;
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) return std::nullopt;
    absl::string_view name = line.substr(0, colon);
    absl::string_view value = TrimOws(line.substr(colon + 1));
    ++ref.header_fields;
    if (absl::EqualsIgnoreCase(name, "transfer-encoding")) {
      ++te;
      te_value = value;
    } else if (absl::EqualsIgnoreCase(name, "content-length")) {
      ++cl;
      cl_value = value;
    }
  }
  size_t pos = header_end + 4;
  if (te > 1 || cl > 1 || (te > 0 && cl > 0)) return std::nullopt;
  if (cl == 1) {
    if (!AllDigits(cl_value)) return std::nullopt;
    while (cl_value.size() > 1 && cl_value[0] == '0') cl_value.remove_prefix(1);
    if (cl_value.size() > 9) return std::nullopt;  // beyond any body limit
    size_t n = std::stoul(std::string(cl_value));
    if (in.size() - pos < n) return std::nullopt;
    ref.body = std::string(in.substr(pos, n));
    ref.length = pos + n;
    return ref;
  }
  if (te == 0) {
    ref.length = pos;
    return ref;
  }
  if (http10 || !absl::EqualsIgnoreCase(te_value, "chunked")) {
    return std::nullopt;
  }
  // chunked-body = *chunk last-chunk trailer-section CRLF
  while (true) {
    size_t digits = 0;
    uint64_t size = 0;
    while (pos + digits < in.size() &&
           absl::ascii_isxdigit(static_cast<unsigned char>(in[pos + digits]))) {
      if (size > (uint64_t{1} << 40)) return std::nullopt;
      char c =
          absl::ascii_tolower(static_cast<unsigned char>(in[pos + digits]));
      size =
          size * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    size_t eol = in.find("\r\n", pos + digits);  // chunk-ext up to CRLF
    if (eol == absl::string_view::npos) return std::nullopt;
    if (size == 0) {
      // The trailer section ends at the first empty line.
      size_t end = in.find("\r\n\r\n", eol);
      if (end == absl::string_view::npos) return std::nullopt;
      ref.length = end + 4;
      return ref;
    }
    pos = eol + 2;
    if (in.size() - pos < size + 2) return std::nullopt;
    ref.body.append(in.data() + pos, size);
    pos += size;
    if (in.substr(pos, 2) != "\r\n") return std::nullopt;
    pos += 2;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = data[0] == 0 ? size : data[0];
  const absl::string_view input(reinterpret_cast<const char*>(data) + 1,
                                size - 1);
  boost::beast::flat_buffer buffer;
  size_t fed = 0;     // input bytes appended to `buffer`
  size_t offset = 0;  // input bytes consumed by parsers
  auto feed = [&] {
    size_t n = std::min(piece, input.size() - fed);
    auto dst = buffer.prepare(n);
    std::copy_n(input.data() + fed, n, static_cast<char*>(dst.data()));
    buffer.commit(n);
    fed += n;
  };
  feed();
  while (true) {
    RequestParser parser(kHeaderLimit, kBodyLimit);
    const size_t start = offset;
    boost::beast::error_code ec;
    ParseStep step;
    while (true) {
      size_t before = buffer.size();
      step = ParseBuffered(parser, buffer, ec);
      offset += before - buffer.size();
      if (step != ParseStep::kNeedMore || fed == input.size()) break;
      if (buffer.size() >=
          clover::server::internal::MaxBufferedBytes(kHeaderLimit)) {
        return 0;  // the server answers 400 and closes
      }
      feed();
    }
    CHECK(offset == fed - buffer.size());
    if (step == ParseStep::kError) {
      // The server answers 400/413/431 and closes: nothing more is parsed.
      CHECK(ec.category() ==
            http::make_error_code(http::error::need_more).category());
      CHECK(ec != http::error::need_more && ec != http::error::end_of_stream &&
            ec != http::error::partial_message);
      return 0;
    }
    if (step == ParseStep::kNeedMore) return 0;  // the input ended mid-request
    std::optional<Reference> ref = Strict(input.substr(start));
    CHECK(ref.has_value());                // accepted framing is unambiguous
    CHECK(ref->length == offset - start);  // and ends where RFC 9112 says
    const auto& msg = parser.get();
    CHECK(msg.body() == ref->body);
    CHECK(static_cast<size_t>(std::distance(msg.begin(), msg.end())) ==
          ref->header_fields);
    if (!msg.keep_alive()) return 0;  // the server closes after answering
  }
}
