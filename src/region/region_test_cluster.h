// Test support (library clover_region_test_support, never linked into the
// product): the throwaway replicated region of the region tests. It is the
// product's RegionCluster (region/cluster.h) started with the default
// options: a fresh temporary directory, a watchdog that kills the cluster and
// removes the directory if the test process dies, and everything stopped and
// removed by the destructor. See region/cluster.h for the contract.
#ifndef CLOVER_REGION_REGION_TEST_CLUSTER_H_
#define CLOVER_REGION_REGION_TEST_CLUSTER_H_

#include "region/cluster.h"

namespace clover::region {

using RegionTestClusterOptions = RegionClusterOptions;
using RegionTestCluster = RegionCluster;

}  // namespace clover::region

#endif  // CLOVER_REGION_REGION_TEST_CLUSTER_H_
