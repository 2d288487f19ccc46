# Fuzzers for the deployment configuration loader and canonical JSON.
clover_fuzzer(fuzz_config SRCS ${CMAKE_CURRENT_LIST_DIR}/core_config_fuzz.cc DEPS clover_config)
clover_fuzzer(fuzz_canonical_json SRCS ${CMAKE_CURRENT_LIST_DIR}/core_canonical_json_fuzz.cc DEPS clover_core)
