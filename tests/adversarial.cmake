# The adversarial suite (tests/adversarial/, docs/operations.md): a real
# `clover serve` process for the example deployment, attacked over loopback by
# the example principals; every test asserts zero raw restricted values to
# non-EU principals, zero 5xx and zero desyncs besides its own class.
if(TARGET clover_gateway AND TARGET clover)
  add_executable(adversarial_test
    ${CMAKE_CURRENT_LIST_DIR}/adversarial/adversarial_node.cc
    ${CMAKE_CURRENT_LIST_DIR}/adversarial/leak_matrix_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/adversarial/classes_test.cc)
  target_include_directories(adversarial_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(adversarial_test PRIVATE clover_options clover_gateway
    GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(adversarial_test PRIVATE
    CLOVER_BINARY="$<TARGET_FILE:clover>")
  # Tests name only the CallOptions members they set.
  target_compile_options(adversarial_test PRIVATE -Wno-missing-field-initializers)
  add_dependencies(adversarial_test clover)
  gtest_discover_tests(adversarial_test DISCOVERY_TIMEOUT 60
    TEST_PREFIX "adversarial."
    PROPERTIES TIMEOUT 120 LABELS "adversarial;e2e" RUN_SERIAL TRUE
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()
