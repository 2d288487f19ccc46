# The HTTP server as a separate process: graceful SIGTERM (stop accepting, drain in-flight
# requests, close idle keep-alive connections, exit 0).
add_executable(server_process_test ${CMAKE_CURRENT_LIST_DIR}/server_process_test.cc)
target_link_libraries(server_process_test PRIVATE clover_options clover_server CURL::libcurl
  GTest::gtest GTest::gtest_main)
gtest_discover_tests(server_process_test
  DISCOVERY_TIMEOUT 60
  PROPERTIES TIMEOUT 120 LABELS "e2e"
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
