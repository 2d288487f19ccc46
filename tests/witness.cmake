# Witnessing end to end (issue 18): a node pushing to two stand-alone
# witnesses, `clover log verify --witness`, and no false log_stalled.
if(TARGET clover_gateway AND TARGET clover)
  add_executable(witness_e2e_test ${CMAKE_CURRENT_SOURCE_DIR}/witness_e2e_test.cc)
  target_include_directories(witness_e2e_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(witness_e2e_test PRIVATE clover_options clover_gateway clover_audit GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(witness_e2e_test PRIVATE CLOVER_BINARY="$<TARGET_FILE:clover>")
  add_dependencies(witness_e2e_test clover)
  gtest_discover_tests(witness_e2e_test DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT 300 LABELS "e2e" RUN_SERIAL TRUE
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()

# `clover witness` as a process: cosigns, survives kill -9 with its state, refuses bad config.
add_test(NAME witness_cli
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/witness_cli_test.sh $<TARGET_FILE:clover>
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(witness_cli PROPERTIES LABELS "e2e" TIMEOUT 60)
