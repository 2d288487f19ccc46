# Key-release fuzzers: the service's request parser (POST /v1/release body)
# and the release layer's opening of the sealed key it carries.
clover_fuzzer(fuzz_release_request
  SRCS ${CMAKE_CURRENT_LIST_DIR}/release_request_fuzz.cc
       ${PROJECT_SOURCE_DIR}/src/release/release_protocol.cc
       ${PROJECT_SOURCE_DIR}/src/release/release_key.cc
  DEPS clover_crypto clover_core OpenSSL::Crypto)
