# Vault fuzzers: the record parser (PUT /v1/subjects body) and the FF1 input path.
clover_fuzzer(fuzz_record SRCS ${CMAKE_CURRENT_LIST_DIR}/vault_record_fuzz.cc DEPS clover_vault)
clover_fuzzer(fuzz_ff1 SRCS ${CMAKE_CURRENT_LIST_DIR}/vault_ff1_fuzz.cc DEPS clover_vault)
