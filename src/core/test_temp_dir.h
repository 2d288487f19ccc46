// A temporary directory for tests (not part of any library): every test that
// needs files gets a fresh, private directory and leaves nothing behind.
#ifndef CLOVER_CORE_TEST_TEMP_DIR_H_
#define CLOVER_CORE_TEST_TEMP_DIR_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/owned_dir.h"

namespace clover::test {

// Creates a fresh, empty directory under $TEST_TMPDIR (or the system's temp
// directory) named `clover-<tag>-XXXXXX`, marked as Clover's
// (core/owned_dir.h); removes it and everything in it on destruction, by the
// same rules as every other deletion (never through a link, never a directory
// without its marker). Aborts the test binary if the directory cannot be
// made: no test can run without it.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "test") {
    const char* base = std::getenv("TEST_TMPDIR");
    auto made =
        CreateOwnedTempDir(tag, base != nullptr ? std::string(base) : "");
    if (!made.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(made.status().message()).c_str());
      std::abort();
    }
    path_ = *made;
  }
  ~TempDir() {
    if (absl::Status s = RemoveOwnedDir(path_); !s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // `path()/name`.
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace clover::test

#endif  // CLOVER_CORE_TEST_TEMP_DIR_H_
