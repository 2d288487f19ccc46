# bench_postgres: the PostgreSQL log and vault drivers against the RocksDB ones
# in the same run (starts its own throwaway PostgreSQL server).
add_executable(bench_postgres ${CMAKE_CURRENT_LIST_DIR}/postgres_bench.cc)
target_link_libraries(bench_postgres PRIVATE clover_options clover_log clover_vault
  clover_crypto clover_test_support)
