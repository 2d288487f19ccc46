# bench_release: vault reads with external key release against the file-KEK
# vault in the same run (warm cache ratio, and the cost of one release).
add_executable(bench_release ${CMAKE_CURRENT_LIST_DIR}/release_bench.cc)
target_link_libraries(bench_release PRIVATE clover_options clover_release clover_vault)
add_test(NAME bench_release_smoke
         COMMAND bench_release --subjects 200 --seconds 0.2 --cold 50)
set_tests_properties(bench_release_smoke PROPERTIES
  PASS_REGULAR_EXPRESSION "warm ratio release/file = [0-9.]+"
  TIMEOUT 120)
