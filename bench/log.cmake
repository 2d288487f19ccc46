# bench_log: the transparency log's throughput, latency, proof and restart figures.
add_executable(bench_log ${CMAKE_CURRENT_LIST_DIR}/log_bench.cc)
target_link_libraries(bench_log PRIVATE clover_options clover_log)
