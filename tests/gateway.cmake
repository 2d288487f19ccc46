# Gateway end-to-end tests over loopback HTTP.
if(TARGET clover_gateway)
  add_executable(gateway_e2e_test ${CMAKE_CURRENT_SOURCE_DIR}/gateway_e2e_test.cc)
  target_link_libraries(gateway_e2e_test PRIVATE clover_options clover_gateway GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(gateway_e2e_test DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT 300 LABELS "e2e" RUN_SERIAL TRUE
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  # Aggregates, detokenize, purposes and request-shape refusals (issue 17).
  add_executable(gateway_reads_test ${CMAKE_CURRENT_SOURCE_DIR}/gateway_reads_test.cc)
  target_link_libraries(gateway_reads_test PRIVATE clover_options clover_gateway GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(gateway_reads_test DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT 300 LABELS "e2e" RUN_SERIAL TRUE
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  # Pseudonym key rotation through a node: overlap window, token_expired,
  # access report across the rotation, restart.
  add_executable(pseudonym_rotation_e2e_test ${CMAKE_CURRENT_SOURCE_DIR}/pseudonym_rotation_e2e_test.cc)
  target_link_libraries(pseudonym_rotation_e2e_test PRIVATE clover_options clover_gateway GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(pseudonym_rotation_e2e_test DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT 300 LABELS "e2e" RUN_SERIAL TRUE
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()

# Crash test: SIGKILL of a real `clover serve` under load.
if(TARGET clover_gateway AND TARGET clover)
  add_executable(gateway_crash_test ${CMAKE_CURRENT_SOURCE_DIR}/gateway_crash_test.cc)
  target_link_libraries(gateway_crash_test PRIVATE clover_options clover_gateway GTest::gtest GTest::gtest_main)
  target_compile_definitions(gateway_crash_test PRIVATE CLOVER_BINARY="$<TARGET_FILE:clover>")
  add_dependencies(gateway_crash_test clover)
  add_test(NAME gateway_crash_test COMMAND gateway_crash_test WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(gateway_crash_test PROPERTIES LABELS "crash" TIMEOUT 300 RUN_SERIAL TRUE)
endif()

# The gateway on the PostgreSQL backend (a throwaway server started by the test).
if(TARGET clover_gateway)
  add_executable(gateway_postgres_test ${CMAKE_CURRENT_SOURCE_DIR}/gateway_postgres_test.cc)
  target_include_directories(gateway_postgres_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(gateway_postgres_test PRIVATE clover_options clover_gateway
    clover_test_support PostgreSQL::PostgreSQL GTest::gtest GTest::gtest_main)
  add_test(NAME gateway_postgres_test COMMAND gateway_postgres_test WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(gateway_postgres_test PROPERTIES LABELS "e2e" TIMEOUT 300)
endif()

# Two DCs of one region over one database: erasures and writes seen at once,
# concurrent creates, a canary touched through another DC (an auditor
# following both logs).
if(TARGET clover_gateway AND TARGET clover_audit)
  add_executable(gateway_region_test ${CMAKE_CURRENT_SOURCE_DIR}/gateway_region_test.cc)
  target_include_directories(gateway_region_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(gateway_region_test PRIVATE clover_options clover_gateway
    clover_audit clover_test_support PostgreSQL::PostgreSQL GTest::gtest GTest::gtest_main)
  add_test(NAME gateway_region_test COMMAND gateway_region_test WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(gateway_region_test PROPERTIES LABELS "e2e" TIMEOUT 300)
endif()

# An erasure purge of a region: two nodes over one database, each attesting
# its own erasures; an auditor following both; a disk attack after.
if(TARGET clover_gateway AND TARGET clover_audit)
  add_executable(regional_purge_test ${CMAKE_CURRENT_SOURCE_DIR}/regional_purge_test.cc)
  target_include_directories(regional_purge_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(regional_purge_test PRIVATE clover_options clover_gateway
    clover_audit clover_test_support PostgreSQL::PostgreSQL GTest::gtest GTest::gtest_main)
  add_test(NAME regional_purge_test COMMAND regional_purge_test WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(regional_purge_test PROPERTIES LABELS "e2e" TIMEOUT 300)
endif()

# The approvals desk end to end (grants, limits, revoke, bounds, logging).
if(TARGET clover_gateway)
  add_executable(approvals_e2e_test ${CMAKE_CURRENT_SOURCE_DIR}/approvals_e2e_test.cc)
  target_link_libraries(approvals_e2e_test PRIVATE clover_options clover_gateway clover_audit GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(approvals_e2e_test DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT 300 LABELS "e2e" RUN_SERIAL TRUE
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()

# The auditor's sources of truth end to end: signed principal directory at node
# startup, and entries forged with the node's key through `clover log append`.
if(TARGET clover_gateway AND TARGET clover)
  add_executable(sources_of_truth_e2e_test ${CMAKE_CURRENT_SOURCE_DIR}/sources_of_truth_e2e_test.cc)
  target_link_libraries(sources_of_truth_e2e_test PRIVATE clover_options clover_gateway clover_audit GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(sources_of_truth_e2e_test PRIVATE CLOVER_BINARY="$<TARGET_FILE:clover>")
  add_dependencies(sources_of_truth_e2e_test clover)
  gtest_discover_tests(sources_of_truth_e2e_test DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT 300 LABELS "e2e" RUN_SERIAL TRUE
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()

# Final erasure on a real node: disk attack before/after `clover vault purge`,
# the attestation checked as the auditor does, a purge killed with SIGKILL.
if(TARGET clover_gateway AND TARGET clover)
  add_executable(erasure_purge_test ${CMAKE_CURRENT_SOURCE_DIR}/erasure_purge_test.cc)
  target_link_libraries(erasure_purge_test PRIVATE clover_options clover_gateway clover_audit GTest::gtest GTest::gtest_main)
  target_compile_definitions(erasure_purge_test PRIVATE CLOVER_BINARY="$<TARGET_FILE:clover>")
  add_dependencies(erasure_purge_test clover)
  gtest_discover_tests(erasure_purge_test DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT 300 LABELS "crash" RUN_SERIAL TRUE
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()

# The region's access index and logs on PostgreSQL: two real `clover serve`
# nodes sharing one database, one of them SIGKILLed (issue 19, item 2).
if(TARGET clover_gateway AND TARGET clover)
  add_executable(regional_access_test ${CMAKE_CURRENT_SOURCE_DIR}/regional_access_test.cc)
  target_include_directories(regional_access_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(regional_access_test PRIVATE clover_options clover_gateway clover_audit
    clover_test_support PostgreSQL::PostgreSQL GTest::gtest GTest::gtest_main)
  target_compile_definitions(regional_access_test PRIVATE CLOVER_BINARY="$<TARGET_FILE:clover>")
  add_dependencies(regional_access_test clover)
  add_test(NAME regional_access_test COMMAND regional_access_test WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(regional_access_test PROPERTIES LABELS "e2e" TIMEOUT 300)
endif()

# Operability of a real `clover serve` (issue 21): JSON-lines access log,
# request and trace ids, no secrets in the log, a wrong KEK at start, /readyz
# with the database stopped and restarted.
if(TARGET clover_gateway AND TARGET clover)
  add_executable(ops_e2e_test ${CMAKE_CURRENT_SOURCE_DIR}/ops_e2e_test.cc)
  target_include_directories(ops_e2e_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(ops_e2e_test PRIVATE clover_options clover_gateway
    clover_test_support PostgreSQL::PostgreSQL GTest::gtest GTest::gtest_main)
  target_compile_definitions(ops_e2e_test PRIVATE CLOVER_BINARY="$<TARGET_FILE:clover>")
  add_dependencies(ops_e2e_test clover)
  add_test(NAME ops_e2e_test COMMAND ops_e2e_test WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(ops_e2e_test PROPERTIES LABELS "e2e" TIMEOUT 300)
endif()

# Identity-provider tokens: a node with a JWKS URL served over TLS by the test
# (issue 21 item 6).
if(TARGET clover_gateway)
  add_executable(jwks_e2e_test ${CMAKE_CURRENT_SOURCE_DIR}/jwks_e2e_test.cc)
  target_link_libraries(jwks_e2e_test PRIVATE clover_options clover_gateway GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(jwks_e2e_test DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT 300 LABELS "e2e" RUN_SERIAL TRUE
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()
