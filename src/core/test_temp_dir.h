// A temporary directory for tests (not part of any library): every test that
// needs files gets a fresh, private directory and leaves nothing behind.
#ifndef CLOVER_CORE_TEST_TEMP_DIR_H_
#define CLOVER_CORE_TEST_TEMP_DIR_H_

#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

namespace clover::test {

// Creates a fresh, empty directory under $TEST_TMPDIR (or the system's temp
// directory) named `clover-<tag>-XXXXXX`; removes it and everything in it on
// destruction. Aborts the test binary if the directory cannot be made: no
// test can run without it.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "test") {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string templ = ((base != nullptr && *base != '\0')
                             ? std::filesystem::path(base)
                             : std::filesystem::temp_directory_path()) /
                        ("clover-" + tag + "-XXXXXX");
    if (mkdtemp(templ.data()) == nullptr) {
      std::fprintf(stderr, "mkdtemp %s: %s\n", templ.c_str(),
                   std::strerror(errno));
      std::abort();
    }
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
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
