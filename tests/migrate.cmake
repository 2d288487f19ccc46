# `clover migrate legacy` end to end (issue 23): a throwaway PostgreSQL legacy
# database, two real `clover serve` nodes (EU, US) and the `clover` binary;
# 100,000 rows migrated, verified, deleted and attested; SIGKILLed runs
# resumed; bad input.
if(TARGET clover_migrate AND TARGET clover)
  add_executable(migrate_legacy_test ${CMAKE_CURRENT_SOURCE_DIR}/migrate_legacy_test.cc)
  target_include_directories(migrate_legacy_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(migrate_legacy_test PRIVATE clover_options clover_gateway clover_audit
    clover_test_support PostgreSQL::PostgreSQL GTest::gtest GTest::gtest_main)
  target_compile_definitions(migrate_legacy_test PRIVATE
    CLOVER_BINARY="$<TARGET_FILE:clover>")
  add_dependencies(migrate_legacy_test clover)
  gtest_discover_tests(migrate_legacy_test DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT 600 LABELS "e2e" RUN_SERIAL TRUE
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()
