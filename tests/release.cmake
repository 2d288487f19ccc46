# External key release end to end: `clover keys serve` and a node with
# keys.release (cut-off, restore, kill -9 of the service).
if(TARGET clover_gateway AND TARGET clover_release AND TARGET clover)
  add_executable(key_release_e2e_test ${CMAKE_CURRENT_SOURCE_DIR}/key_release_e2e_test.cc)
  target_link_libraries(key_release_e2e_test PRIVATE clover_options clover_gateway clover_release clover_audit GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(key_release_e2e_test PRIVATE CLOVER_BINARY="$<TARGET_FILE:clover>")
  add_dependencies(key_release_e2e_test clover)
  gtest_discover_tests(key_release_e2e_test DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT 300 LABELS "crash" RUN_SERIAL TRUE
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()
