# bench_vault: crypto and vault throughput against raw OpenSSL HMAC-SHA-256 as the ceiling.
add_executable(bench_vault ${CMAKE_CURRENT_LIST_DIR}/vault_bench.cc)
target_link_libraries(bench_vault PRIVATE clover_options clover_vault clover_crypto)
