# hsm_node_test: a node on a KEK held in a PKCS#11 token (SoftHSM2): serves,
# purges (the epoch key destroyed in the token), refuses a wrong PIN.
if(TARGET clover_gateway AND TARGET clover)
  add_executable(hsm_node_test ${CMAKE_CURRENT_SOURCE_DIR}/hsm_node_test.cc)
  target_link_libraries(hsm_node_test PRIVATE clover_options clover_gateway GTest::gtest GTest::gtest_main)
  target_compile_definitions(hsm_node_test PRIVATE CLOVER_BINARY="$<TARGET_FILE:clover>")
  add_dependencies(hsm_node_test clover)
  gtest_discover_tests(hsm_node_test DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT 120 LABELS "e2e"
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()
