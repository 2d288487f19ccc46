// Helpers shared by the log unit tests (not part of the library).
#ifndef CLOVER_LOG_TEST_UTIL_H_
#define CLOVER_LOG_TEST_UTIL_H_

#include "core/test_temp_dir.h"

namespace clover::log::testing {

using TempDir = ::clover::test::TempDir;

}  // namespace clover::log::testing

#endif  // CLOVER_LOG_TEST_UTIL_H_
