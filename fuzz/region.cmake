# Remote input of the runtime residency check (region/topology.h): Patroni's
# /cluster answer; and the DSN host parser of the static check.
if(TARGET clover_region)
  clover_fuzzer(fuzz_region_topology
    SRCS ${CMAKE_CURRENT_LIST_DIR}/region_topology_fuzz.cc DEPS clover_region)
endif()
