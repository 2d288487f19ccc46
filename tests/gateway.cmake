# Gateway end-to-end tests over loopback HTTP.
if(TARGET clover_gateway)
  add_executable(gateway_e2e_test ${CMAKE_CURRENT_SOURCE_DIR}/gateway_e2e_test.cc)
  target_link_libraries(gateway_e2e_test PRIVATE clover_options clover_gateway GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(gateway_e2e_test DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT 300 LABELS "e2e" RUN_SERIAL TRUE
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()
