# bench_vault: crypto and vault throughput against raw OpenSSL HMAC-SHA-256 as the ceiling.
# Its key-custody section (vault_keys_bench.cc) adds the file KEK, a SoftHSM2
# token and external key release, reads and writes, warm and cold.
add_executable(bench_vault ${CMAKE_CURRENT_LIST_DIR}/vault_bench.cc
                           ${CMAKE_CURRENT_LIST_DIR}/vault_keys_bench.cc)
target_link_libraries(bench_vault PRIVATE clover_options clover_vault clover_crypto
                                          clover_release)
target_include_directories(bench_vault PRIVATE ${PROJECT_SOURCE_DIR})
# A small run on every test pass, so the bench keeps building and running to its last figure.
add_test(NAME bench_vault_smoke
         COMMAND bench_vault --subjects 2000 --seconds 0.01
                 --key-subjects 300
                 --dir ${CMAKE_CURRENT_BINARY_DIR}/bench_vault_smoke)
# With softhsm2 installed (scripts/bootstrap.sh) every key-custody kind must run.
set_tests_properties(bench_vault_smoke PROPERTIES
  PASS_REGULAR_EXPRESSION "storage floor [^\n]*new-subject put = [0-9.]+ x this.*cost of one token unwrap[^\n]*\ncost of one release [^\n]*= [0-9.-]+ us[^\n]*\nwarm ratio release/file = [0-9.]+"
  FAIL_REGULAR_EXPRESSION "skipped:|failed:"
  TIMEOUT 120)
