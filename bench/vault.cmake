# bench_vault: crypto and vault throughput against raw OpenSSL HMAC-SHA-256 as the ceiling.
add_executable(bench_vault ${CMAKE_CURRENT_LIST_DIR}/vault_bench.cc)
target_link_libraries(bench_vault PRIVATE clover_options clover_vault clover_crypto)
# A small run on every test pass, so the bench keeps building and running to its last figure.
add_test(NAME bench_vault_smoke
         COMMAND bench_vault --subjects 2000 --seconds 0.01
                 --dir ${CMAKE_CURRENT_BINARY_DIR}/bench_vault_smoke)
set_tests_properties(bench_vault_smoke PROPERTIES
  PASS_REGULAR_EXPRESSION "storage floor [^\n]*new-subject put = [0-9.]+ x this"
  TIMEOUT 120)
