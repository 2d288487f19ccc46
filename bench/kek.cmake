# bench_kek: the PKCS#11 (SoftHSM2) KEK and epoch keys against the file KEK:
# unwraps, cache-miss key path, vault reads warm and cold.
add_executable(bench_kek ${CMAKE_CURRENT_LIST_DIR}/kek_bench.cc)
target_link_libraries(bench_kek PRIVATE clover_options clover_vault benchmark::benchmark)
# A short run on every test pass: it keeps building, and with softhsm2 installed
# (scripts/bootstrap.sh) the token cases must run, not be skipped.
add_test(NAME bench_kek_smoke
         COMMAND bench_kek --benchmark_min_time=0.01
                 --benchmark_filter=BM_KekUnwrap/.*threads:1|BM_VaultPut)
set_tests_properties(bench_kek_smoke PROPERTIES
  PASS_REGULAR_EXPRESSION "BM_KekUnwrap/1/[^\n]*items_per_second=[^\n]*pkcs11"
  FAIL_REGULAR_EXPRESSION "ERROR OCCURRED"
  TIMEOUT 120)
