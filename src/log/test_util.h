// Helpers shared by the log unit tests (not part of the library).
#ifndef CLOVER_LOG_TEST_UTIL_H_
#define CLOVER_LOG_TEST_UTIL_H_

#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"

namespace clover::log::testing {

// A fresh empty directory under the test temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string tmpl =
        absl::StrCat(base ? base : "/tmp", "/clover-log-test-XXXXXX");
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace clover::log::testing

#endif  // CLOVER_LOG_TEST_UTIL_H_
