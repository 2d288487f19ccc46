# The API contract (docs/openapi.yaml): a real node's routes against the spec,
# the response validator's negative cases, and paging of the node's lists.
if(TARGET clover_gateway)
  add_executable(openapi_test ${CMAKE_CURRENT_SOURCE_DIR}/openapi_test.cc)
  target_link_libraries(openapi_test PRIVATE clover_options clover_gateway GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(openapi_test DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT 300 LABELS "e2e" RUN_SERIAL TRUE
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()
