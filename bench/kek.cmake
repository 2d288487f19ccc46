# bench_kek: the PKCS#11 (SoftHSM2) KEK and epoch keys against the file KEK:
# unwraps, cache-miss key path, vault reads warm and cold.
add_executable(bench_kek ${CMAKE_CURRENT_LIST_DIR}/kek_bench.cc)
target_link_libraries(bench_kek PRIVATE clover_options clover_vault benchmark::benchmark)
