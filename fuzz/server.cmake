# Fuzzers of the server part's parsers. They compile the parser sources directly so that a
# fuzz build does not need every library the gateway links.
clover_fuzzer(fuzz_jwt
  SRCS ${CMAKE_CURRENT_LIST_DIR}/server_jwt_fuzz.cc ${PROJECT_SOURCE_DIR}/src/gateway/jwt.cc
       ${PROJECT_SOURCE_DIR}/src/core/json_parse.cc ${PROJECT_SOURCE_DIR}/src/core/utf8.cc
  DEPS OpenSSL::Crypto absl::status absl::statusor absl::strings absl::time
       absl::flat_hash_set)
clover_fuzzer(fuzz_http_target
  SRCS ${CMAKE_CURRENT_LIST_DIR}/server_http_target_fuzz.cc ${PROJECT_SOURCE_DIR}/src/server/url.cc
  DEPS absl::status absl::statusor absl::strings)
# HTTP/1.1 request framing (transfer codings, Content-Length, pipelining) as the server parses
# it; header-only Boost.Beast, so no Asio.
clover_fuzzer(fuzz_http_framing
  SRCS ${CMAKE_CURRENT_LIST_DIR}/server_http_framing_fuzz.cc
       ${PROJECT_SOURCE_DIR}/src/server/http_request_parser.cc
  DEPS Boost::system absl::strings)
# X-Request-Id and traceparent as the transport validates them, and the
# logger's redaction and line format over arbitrary text.
clover_fuzzer(fuzz_request_id
  SRCS ${CMAKE_CURRENT_LIST_DIR}/server_request_id_fuzz.cc
       ${PROJECT_SOURCE_DIR}/src/server/request_id.cc
       ${PROJECT_SOURCE_DIR}/src/core/logger.cc
       ${PROJECT_SOURCE_DIR}/src/core/rfc3339.cc
       ${PROJECT_SOURCE_DIR}/src/core/canonical_json.cc
       ${PROJECT_SOURCE_DIR}/src/core/utf8.cc
  DEPS absl::status absl::statusor absl::strings absl::str_format absl::time
       absl::synchronization spdlog::spdlog)
# Page tokens of the list endpoints (tamper-evident cursors), limits and the
# query string they come in.
clover_fuzzer(fuzz_page_token
  SRCS ${CMAKE_CURRENT_LIST_DIR}/server_page_token_fuzz.cc
       ${PROJECT_SOURCE_DIR}/src/server/page_token.cc
       ${PROJECT_SOURCE_DIR}/src/server/http.cc
       ${PROJECT_SOURCE_DIR}/src/server/url.cc
       ${PROJECT_SOURCE_DIR}/src/core/canonical_json.cc
       ${PROJECT_SOURCE_DIR}/src/core/utf8.cc
  DEPS OpenSSL::Crypto absl::status absl::statusor absl::strings absl::time
       absl::cord absl::flat_hash_map)
