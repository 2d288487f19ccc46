# The auditor's verification of legacy-migration deletion attestations
# (audit/legacy_check.h) against a throwaway PostgreSQL legacy table: one
# server per binary, so one CTest test. Labelled e2e: it needs server
# processes.
add_executable(legacy_audit_test ${CMAKE_CURRENT_LIST_DIR}/legacy_audit_test.cc)
target_link_libraries(legacy_audit_test PRIVATE clover_options clover_audit
  clover_audit_test_support
  clover_test_support PostgreSQL::PostgreSQL GTest::gtest GTest::gmock
  GTest::gtest_main)
target_include_directories(legacy_audit_test PRIVATE ${PROJECT_SOURCE_DIR})
add_test(NAME legacy_audit_test COMMAND legacy_audit_test
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(legacy_audit_test PROPERTIES LABELS "e2e" TIMEOUT 300)
