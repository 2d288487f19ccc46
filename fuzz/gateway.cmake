# Fuzzer for the gateway's request-body and query parsing.
clover_fuzzer(fuzz_gateway_request SRCS ${CMAKE_CURRENT_LIST_DIR}/gateway_request_fuzz.cc DEPS clover_gateway)
