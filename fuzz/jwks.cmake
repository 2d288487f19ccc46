# Fuzzer for the JWKS parser of identity providers (gateway/jwks.h).
clover_fuzzer(fuzz_jwks SRCS ${CMAKE_CURRENT_LIST_DIR}/gateway_jwks_fuzz.cc DEPS clover_gateway)
