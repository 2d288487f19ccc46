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
