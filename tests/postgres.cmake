# PostgreSQL storage drivers against a throwaway server each test binary starts
# itself (core/postgres_test_server.h): one server per binary, so each binary
# is one CTest test. Labelled e2e, not unit: they need server processes.
foreach(part log vault)
  add_executable(postgres_${part}_test
    ${CMAKE_CURRENT_LIST_DIR}/postgres_${part}_test.cc)
  target_link_libraries(postgres_${part}_test PRIVATE clover_options clover_${part}
    clover_test_support
    PostgreSQL::PostgreSQL GTest::gtest GTest::gmock GTest::gtest_main)
  add_test(NAME postgres_${part}_test COMMAND postgres_${part}_test
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(postgres_${part}_test PROPERTIES LABELS "e2e" TIMEOUT 300)
endforeach()

# Two vaults over one database, as two nodes of a region: reads see the other
# node's writes and erasures at once; writes to one row serialise.
add_executable(postgres_vault_region_test
  ${CMAKE_CURRENT_LIST_DIR}/postgres_vault_region_test.cc)
target_link_libraries(postgres_vault_region_test PRIVATE clover_options
  clover_vault clover_test_support
  PostgreSQL::PostgreSQL GTest::gtest GTest::gtest_main)
add_test(NAME postgres_vault_region_test COMMAND postgres_vault_region_test
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(postgres_vault_region_test PROPERTIES LABELS "e2e" TIMEOUT 300)

# Crash test: a helper appending to a PostgreSQL-backed log is SIGKILLed, and
# the server itself is crashed under it in every other round.
add_executable(postgres_crash_helper ${CMAKE_CURRENT_LIST_DIR}/postgres_crash_helper.cc)
target_link_libraries(postgres_crash_helper PRIVATE clover_options clover_log)
add_executable(postgres_crash_test ${CMAKE_CURRENT_LIST_DIR}/postgres_crash_test.cc)
target_link_libraries(postgres_crash_test PRIVATE clover_options clover_log
  clover_test_support
  PostgreSQL::PostgreSQL GTest::gtest GTest::gtest_main)
add_dependencies(postgres_crash_test postgres_crash_helper)
target_compile_definitions(postgres_crash_test PRIVATE
  POSTGRES_CRASH_HELPER="$<TARGET_FILE:postgres_crash_helper>")
add_test(NAME postgres_crash_test COMMAND postgres_crash_test
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(postgres_crash_test PROPERTIES LABELS "crash" TIMEOUT 300)

# Final erasure on PostgreSQL: the data directory (heap files and pg_wal)
# attacked with the KEK before and after a purge.
add_executable(postgres_erasure_test ${CMAKE_CURRENT_LIST_DIR}/postgres_erasure_test.cc)
target_link_libraries(postgres_erasure_test PRIVATE clover_options clover_vault
  clover_test_support PostgreSQL::PostgreSQL GTest::gtest GTest::gtest_main)
add_test(NAME postgres_erasure_test COMMAND postgres_erasure_test
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(postgres_erasure_test PROPERTIES LABELS "e2e" TIMEOUT 300)

# Regional state on the region's database: the PostgreSQL KvStore, approvals
# shared by two nodes, one privacy budget spent through two nodes.
if(TARGET clover_gateway)
  add_executable(postgres_regional_test
    ${CMAKE_CURRENT_LIST_DIR}/postgres_regional_test.cc)
  target_link_libraries(postgres_regional_test PRIVATE clover_options
    clover_gateway clover_approvals clover_kv clover_test_support
    PostgreSQL::PostgreSQL GTest::gtest GTest::gtest_main)
  add_test(NAME postgres_regional_test COMMAND postgres_regional_test
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(postgres_regional_test PROPERTIES LABELS "e2e" TIMEOUT 300)
endif()
