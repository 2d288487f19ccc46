// Strict HTTP/1.1 request framing (RFC 9112) on top of Boost.Beast's parser.
// Internal to the server: used by server/http_server.cc and the framing fuzzer
// (fuzz/server_http_framing_fuzz.cc), so both run exactly this code.
//
// Beast 1.74 alone is lenient where leniency lets a request smuggle another
// (issue 17): a Transfer-Encoding whose last coding is not `chunked`
// (`chunked, identity`, `xchunked`) frames no body at all, so the body is read
// as the next request; a Transfer-Encoding after a non-chunked one is honoured;
// Content-Length after a non-chunked Transfer-Encoding is honoured; obs-fold is
// unfolded. RequestParser refuses, while the header is parsed and before any
// body byte is read, every request whose framing is not unambiguous:
//   - a Transfer-Encoding field other than exactly one whose value is the
//     single coding `chunked` (any case), or one in an HTTP/1.0 request;
//   - Transfer-Encoding together with Content-Length (either order);
//   - more than one Content-Length field, or a value that is not 1*DIGIT
//     (a list such as `5, 5` included);
//   - obs-fold: a field line continued on a line starting with SP or HTAB.
// A refused request is a parse error (put() fails; framing_error() says why):
// the caller answers 400 and closes the connection without reading further.
// Trailer fields of a chunked body are checked the same way and then dropped,
// never merged into the header fields handlers see (RFC 9110 §6.5.2).
#ifndef CLOVER_SERVER_HTTP_REQUEST_PARSER_H_
#define CLOVER_SERVER_HTTP_REQUEST_PARSER_H_

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>

#include "absl/strings/string_view.h"

namespace clover::server::internal {

class RequestParser final : public boost::beast::http::request_parser<
                                boost::beast::http::string_body> {
 public:
  RequestParser(size_t max_header_bytes, size_t max_body_bytes);

  // Why the last put() failed if RequestParser refused the framing; empty when
  // Beast's own checks failed (or nothing failed).
  absl::string_view framing_error() const { return framing_error_; }

 private:
  void on_field_impl(boost::beast::http::field name,
                     boost::beast::string_view name_string,
                     boost::beast::string_view value,
                     boost::beast::error_code& ec) override;

  bool seen_transfer_encoding_ = false;
  bool seen_content_length_ = false;
  absl::string_view framing_error_;
};

enum class ParseStep {
  kDone,      // a whole request is parsed; what follows it stays buffered
  kNeedMore,  // everything buffered was consumed and the request is incomplete
  kError,     // `ec` says why (http::error::header_limit, body_limit, ...)
};

// Feeds what `buffer` holds to `parser`, consuming the bytes parsed. Stops at
// the end of one request, so pipelined requests wait in the buffer for their
// own parser. The caller reads more into `buffer` on kNeedMore, as long as it
// holds fewer than MaxBufferedBytes().
[[nodiscard]] ParseStep ParseBuffered(RequestParser& parser,
                                      boost::beast::flat_buffer& buffer,
                                      boost::beast::error_code& ec);

// The most bytes a connection may hold unparsed. The parser consumes body
// bytes as they come, so what stays buffered is a header in progress (bounded
// by max_header_bytes), a chunk-size line, a trailer section or pipelined
// requests; Beast bounds neither chunk extensions nor trailers, this does.
inline size_t MaxBufferedBytes(size_t max_header_bytes) {
  return max_header_bytes + 16 * 1024;
}

}  // namespace clover::server::internal

#endif  // CLOVER_SERVER_HTTP_REQUEST_PARSER_H_
