// The region tests' cluster is region/cluster.h itself (see
// region/region_test_cluster.h); this library only keeps it out of the
// product's link lines.
#include "region/region_test_cluster.h"
