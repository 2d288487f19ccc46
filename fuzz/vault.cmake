# Vault fuzzers: the record parser (PUT /v1/subjects body), the FF1 input path,
# and token version tags with the stored pseudonym root rows.
clover_fuzzer(fuzz_record SRCS ${CMAKE_CURRENT_LIST_DIR}/vault_record_fuzz.cc DEPS clover_vault)
clover_fuzzer(fuzz_ff1 SRCS ${CMAKE_CURRENT_LIST_DIR}/vault_ff1_fuzz.cc DEPS clover_vault)
clover_fuzzer(fuzz_pseudonym_token SRCS ${CMAKE_CURRENT_LIST_DIR}/vault_pseudonym_token_fuzz.cc DEPS clover_vault)
