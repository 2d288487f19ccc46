# The replicated region (issue 19) on loopback: 3 etcd + 3 Patroni-managed
# PostgreSQL members started by each test binary (region/region_test_cluster.h).
# Label "region": `ctest -L region`. Each binary starts its own cluster, so the
# two never share ports or directories.
if(TARGET clover_region_test_support)
  add_executable(region_cluster_test ${CMAKE_CURRENT_LIST_DIR}/region_cluster_test.cc)
  target_link_libraries(region_cluster_test PRIVATE clover_options
    clover_region_test_support PostgreSQL::PostgreSQL GTest::gtest GTest::gtest_main)
  add_test(NAME region_cluster_test COMMAND region_cluster_test
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(region_cluster_test PROPERTIES LABELS "region" TIMEOUT 300)
endif()

# Failover end to end: a real `clover serve` on the region's multi-host DSN
# while the leader's PostgreSQL and Patroni are SIGKILLed.
if(TARGET clover_region_test_support AND TARGET clover_gateway AND TARGET clover)
  add_executable(region_failover_test ${CMAKE_CURRENT_LIST_DIR}/region_failover_test.cc)
  target_link_libraries(region_failover_test PRIVATE clover_options clover_gateway
    clover_region_test_support GTest::gtest GTest::gtest_main)
  target_compile_definitions(region_failover_test PRIVATE CLOVER_BINARY="$<TARGET_FILE:clover>")
  add_dependencies(region_failover_test clover)
  add_test(NAME region_failover_test COMMAND region_failover_test
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(region_failover_test PROPERTIES LABELS "region" TIMEOUT 300)
endif()

# Residency of replicas at run time: the topology check against the real
# cluster, and a real `clover serve` turning not-ready on a member outside
# the declared region.
if(TARGET clover_region_test_support AND TARGET clover_region AND TARGET clover_gateway AND TARGET clover)
  add_executable(region_residency_test ${CMAKE_CURRENT_LIST_DIR}/region_residency_test.cc)
  target_link_libraries(region_residency_test PRIVATE clover_options clover_gateway
    clover_region clover_region_test_support GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(region_residency_test PRIVATE CLOVER_BINARY="$<TARGET_FILE:clover>")
  add_dependencies(region_residency_test clover)
  add_test(NAME region_residency_test COMMAND region_residency_test
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(region_residency_test PROPERTIES LABELS "region" TIMEOUT 300)
endif()

# The region as an operator runs it: the real `clover region up`, grants and
# the ε budget across DCs, `clover region drill` (>= 1,000 acknowledged writes,
# none lost, through the loss of the leader's whole DC) and `clover region
# down` stopping only what `up` started. Label "ha" (and "region").
if(TARGET clover_gateway AND TARGET clover_region_up AND TARGET clover)
  add_executable(region_ha_test ${CMAKE_CURRENT_LIST_DIR}/region_ha_test.cc)
  target_link_libraries(region_ha_test PRIVATE clover_options clover_gateway
    clover_region_up clover_core GTest::gtest GTest::gtest_main)
  target_compile_definitions(region_ha_test PRIVATE CLOVER_BINARY="$<TARGET_FILE:clover>")
  add_dependencies(region_ha_test clover)
  add_test(NAME region_ha_test COMMAND region_ha_test
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(region_ha_test PROPERTIES LABELS "ha;region" TIMEOUT 300)
endif()

# The region's vault and the auditor's topology check against the real
# cluster: erasures and writes seen at once through another DC, racing writes
# never resurrect an erased subject, the auditor's topology_violation.
if(TARGET clover_region_test_support AND TARGET clover_gateway AND TARGET clover_audit)
  add_executable(region_vault_ha_test ${CMAKE_CURRENT_LIST_DIR}/region_vault_ha_test.cc)
  target_include_directories(region_vault_ha_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(region_vault_ha_test PRIVATE clover_options clover_gateway
    clover_audit clover_vault clover_region_test_support GTest::gtest GTest::gtest_main)
  add_test(NAME region_vault_ha_test COMMAND region_vault_ha_test
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(region_vault_ha_test PROPERTIES LABELS "region;ha" TIMEOUT 300)
endif()

# Durability of in-doubt commits (issue 19, item 1): with both standbys'
# WAL receivers stopped, a vault write and a log batch whose writing backends
# are terminated while waiting for the standby are not acknowledged; after
# the receivers resume they are, and the row is on a standby.
if(TARGET clover_region_test_support AND TARGET clover_vault AND TARGET clover_log)
  add_executable(region_durability_test ${CMAKE_CURRENT_LIST_DIR}/region_durability_test.cc)
  target_link_libraries(region_durability_test PRIVATE clover_options clover_vault
    clover_log clover_region_test_support PostgreSQL::PostgreSQL GTest::gtest GTest::gtest_main)
  add_test(NAME region_durability_test COMMAND region_durability_test
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(region_durability_test PROPERTIES LABELS "ha;region" TIMEOUT 300)
endif()
