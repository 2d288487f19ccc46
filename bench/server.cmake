# Server benchmarks: micro-benchmarks of the hot-path pieces (bench_server) and a /healthz
# server (bench_http_server) that measures itself by default and serves wrk with --serve
# (see bench/server-wrk.sh).
add_executable(bench_server ${CMAKE_CURRENT_LIST_DIR}/server_bench.cc)
target_link_libraries(bench_server PRIVATE clover_options clover_server benchmark::benchmark)
add_executable(bench_http_server ${CMAKE_CURRENT_LIST_DIR}/http_server_bench.cc)
target_link_libraries(bench_http_server PRIVATE clover_options clover_server Threads::Threads)
