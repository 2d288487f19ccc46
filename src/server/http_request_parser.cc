#include "server/http_request_parser.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace clover::server::internal {

namespace http = boost::beast::http;

RequestParser::RequestParser(size_t max_header_bytes, size_t max_body_bytes) {
  header_limit(static_cast<uint32_t>(std::min<size_t>(
      max_header_bytes, std::numeric_limits<uint32_t>::max())));
  body_limit(max_body_bytes);
  // Usually the whole request is already buffered: parse header and body in
  // one put().
  eager(true);
}

void RequestParser::on_field_impl(http::field name,
                                  boost::beast::string_view name_string,
                                  boost::beast::string_view value,
                                  boost::beast::error_code& ec) {
  auto refuse = [&](absl::string_view why, http::error code) {
    framing_error_ = why;
    ec = code;
  };
  // obs-fold. Beast hands an unfolded value in the input, right after the
  // colon and optional whitespace; a folded one it has joined into a buffer of
  // its own, or (when the first line was empty) starts on a later line. The
  // name is always in the input and the line holds at least its CRLF, so the
  // scan stays inside the field line.
  const char* p = name_string.data() + name_string.size() + 1;
  while (*p == ' ' || *p == '\t') ++p;
  if (p != value.data()) {
    return refuse("obs-fold (a field line continued on the next line)",
                  http::error::bad_value);
  }
  const bool trailer = is_header_done();
  if (name == http::field::transfer_encoding) {
    if (seen_transfer_encoding_) {
      return refuse("more than one Transfer-Encoding field",
                    http::error::bad_transfer_encoding);
    }
    seen_transfer_encoding_ = true;
    if (seen_content_length_) {
      return refuse("Transfer-Encoding together with Content-Length",
                    http::error::bad_transfer_encoding);
    }
    if (!absl::EqualsIgnoreCase(absl::string_view(value.data(), value.size()),
                                "chunked")) {
      return refuse("Transfer-Encoding other than exactly \"chunked\"",
                    http::error::bad_transfer_encoding);
    }
    if (get().version() < 11) {
      return refuse("Transfer-Encoding in an HTTP/1.0 request",
                    http::error::bad_transfer_encoding);
    }
  } else if (name == http::field::content_length) {
    if (seen_content_length_) {
      return refuse("more than one Content-Length field",
                    http::error::bad_content_length);
    }
    seen_content_length_ = true;
    if (seen_transfer_encoding_) {
      return refuse("Transfer-Encoding together with Content-Length",
                    http::error::bad_content_length);
    }
    if (value.empty() ||
        !std::all_of(value.begin(), value.end(), absl::ascii_isdigit)) {
      return refuse("Content-Length is not a decimal number",
                    http::error::bad_content_length);
    }
  }
  // Trailer fields arrive after the handler-visible header was framed; they
  // are checked above and dropped.
  if (trailer) return;
  get().insert(name, name_string, value);
}

ParseStep ParseBuffered(RequestParser& parser,
                        boost::beast::flat_buffer& buffer,
                        boost::beast::error_code& ec) {
  ec = {};
  while (buffer.size() > 0 && !parser.is_done()) {
    // Beast 1.74 asserts (debug builds) when a last chunk it has seen whole is
    // put again with fewer than 5 bytes (boostorg/beast#2861). It consumes
    // none of "0" CRLF [trailers] CRLF before the end, so a chunked body can
    // only complete with at least 5 bytes buffered: waiting for them loses
    // nothing.
    if (parser.is_header_done() && parser.chunked() && buffer.size() < 5) {
      return ParseStep::kNeedMore;
    }
    size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_more) {
      ec = {};
      return ParseStep::kNeedMore;
    }
    if (ec) return ParseStep::kError;
    if (used == 0) break;
  }
  return parser.is_done() ? ParseStep::kDone : ParseStep::kNeedMore;
}

}  // namespace clover::server::internal
