#include "core/owned_dir.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "core/protected_paths.h"
#include "core/test_temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(path, ec));
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class OwnedDirTest : public ::testing::Test {
 protected:
  test::TempDir tmp_{"owned-dir"};
};

TEST_F(OwnedDirTest, CreatesTheDirectoryWithTheMarker) {
  const std::string dir = tmp_.Sub("a/b/data");
  ASSERT_TRUE(CreateOwnedDir(dir, "unit test").ok());
  const std::string marker = ReadFile(dir + "/" + kOwnedDirMarker);
  EXPECT_EQ(marker.substr(0, marker.find('\n')), kOwnedDirMagic);
  EXPECT_THAT(marker, HasSubstr("created by: unit test"));
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // Again: already owned, kept as is.
  WriteFile(dir + "/kept", "x");
  EXPECT_TRUE(CreateOwnedDir(dir, "unit test").ok());
  EXPECT_TRUE(Exists(dir + "/kept"));
}

TEST_F(OwnedDirTest, ForeignDirectoryIsRefusedAndItsFilesSurvive) {
  const std::string dir = tmp_.Sub("foreign");
  fs::create_directories(dir + "/sub");
  WriteFile(dir + "/precious.txt", "keep me");
  WriteFile(dir + "/sub/also.txt", "keep me too");
  for (absl::Status s :
       {ResetOwnedDir(dir, "unit test"), CreateOwnedDir(dir, "unit test"),
        RemoveOwnedDir(dir)}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(dir));
    EXPECT_THAT(std::string(s.message()), HasSubstr(kOwnedDirMarker));
  }
  EXPECT_EQ(ReadFile(dir + "/precious.txt"), "keep me");
  EXPECT_EQ(ReadFile(dir + "/sub/also.txt"), "keep me too");
  EXPECT_FALSE(Exists(dir + "/" + kOwnedDirMarker));
}

TEST_F(OwnedDirTest, RootAndSystemDirectoriesAreRefused) {
  const std::string to_root = tmp_.Sub("to-root");
  fs::create_directory_symlink("/", to_root);
  for (const std::string& path : std::vector<std::string>{
           "/", "//", "/.", "/usr/..", "/etc", "/usr", "/usr/lib", "/var/lib",
           "/tmp", "/tmp/", to_root, to_root + "/etc"}) {
    for (absl::Status s :
         {ResetOwnedDir(path, "unit test"), CreateOwnedDir(path, "unit test"),
          RemoveOwnedDir(path)}) {
      EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition)
          << path << ": " << s;
      EXPECT_THAT(std::string(s.message()), HasSubstr("refusing"));
    }
  }
  EXPECT_THAT(std::string(CheckNotProtected("/").message()),
              HasSubstr("the root directory"));
  EXPECT_FALSE(Exists(std::string("/") + kOwnedDirMarker));
  EXPECT_TRUE(Exists(to_root));  // the link, untouched
}

TEST_F(OwnedDirTest, HomeDirectoryAndItsParentsAreRefusedEvenIfEmpty) {
  // An empty directory would be adopted: as $HOME it must not be.
  const std::string home = tmp_.Sub("homes/alice");
  fs::create_directories(home);
  {
    ScopedEnv env("HOME", home);
    for (const std::string& path : {home, home + "/", tmp_.Sub("homes")}) {
      absl::Status s = ResetOwnedDir(path, "unit test");
      EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << path;
      EXPECT_THAT(std::string(s.message()), HasSubstr("home directory"));
    }
    EXPECT_FALSE(Exists(home + "/" + kOwnedDirMarker));
    // Below the home directory is fine.
    EXPECT_TRUE(CreateOwnedDir(home + "/clover-data", "unit test").ok());
  }
  // The passwd entry's home counts whatever $HOME says.
  struct passwd* pw = getpwuid(geteuid());
  if (pw != nullptr && pw->pw_dir != nullptr && *pw->pw_dir != '\0') {
    ScopedEnv env("HOME", home);
    EXPECT_EQ(CheckNotProtected(pw->pw_dir).code(),
              absl::StatusCode::kFailedPrecondition);
  }
}

TEST_F(OwnedDirTest, EmptyDirectoryIsAdopted) {
  const std::string dir = tmp_.Sub("empty");
  fs::create_directory(dir);
  ASSERT_TRUE(ResetOwnedDir(dir, "unit test").ok());
  EXPECT_TRUE(Exists(dir + "/" + kOwnedDirMarker));
  ASSERT_TRUE(RemoveOwnedDir(dir).ok());
  EXPECT_FALSE(Exists(dir));
}

TEST_F(OwnedDirTest, OwnedDirectoryIsClearedButKeepsItsMarker) {
  const std::string dir = tmp_.Sub("owned");
  ASSERT_TRUE(CreateOwnedDir(dir, "unit test").ok());
  fs::create_directories(dir + "/a/b/c");
  WriteFile(dir + "/a/b/c/f", "1");
  WriteFile(dir + "/top", "2");
  ASSERT_TRUE(ResetOwnedDir(dir, "unit test").ok());
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir))
    left.push_back(e.path().filename().string());
  EXPECT_THAT(left, ::testing::ElementsAre(kOwnedDirMarker));
}

TEST_F(OwnedDirTest, LinksAreRemovedAsLinksAndTheirTargetsSurvive) {
  const std::string foreign = tmp_.Sub("foreign");
  fs::create_directories(foreign + "/inner");
  WriteFile(foreign + "/file", "keep");
  WriteFile(foreign + "/inner/deep", "keep");
  const std::string dir = tmp_.Sub("owned");
  ASSERT_TRUE(CreateOwnedDir(dir, "unit test").ok());
  fs::create_directories(dir + "/sub");
  fs::create_directory_symlink(foreign, dir + "/dir-link");
  fs::create_directory_symlink(foreign, dir + "/sub/dir-link");
  fs::create_symlink(foreign + "/file", dir + "/file-link");
  fs::create_directory_symlink("/", dir + "/root-link");
  ASSERT_TRUE(RemoveOwnedDir(dir).ok());
  EXPECT_FALSE(Exists(dir));
  EXPECT_EQ(ReadFile(foreign + "/file"), "keep");
  EXPECT_EQ(ReadFile(foreign + "/inner/deep"), "keep");
}

TEST_F(OwnedDirTest, MarkerOnlyCountsInItsOwnDirectory) {
  const std::string dir = tmp_.Sub("owned");
  ASSERT_TRUE(CreateOwnedDir(dir, "unit test").ok());
  fs::create_directories(dir + "/child");
  WriteFile(dir + "/child/f", "x");
  EXPECT_EQ(RemoveOwnedDir(dir + "/child").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ResetOwnedDir(dir + "/child", "unit test").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Exists(dir + "/child/f"));
}

TEST_F(OwnedDirTest, ForgedOrLinkedMarkersAreRefused) {
  const std::string dir = tmp_.Sub("forged");
  fs::create_directory(dir);
  WriteFile(dir + "/" + kOwnedDirMarker, "something else\n");
  WriteFile(dir + "/f", "x");
  EXPECT_EQ(RemoveOwnedDir(dir).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Exists(dir + "/f"));
  // A link to a real marker elsewhere does not make this directory Clover's.
  const std::string real = tmp_.Sub("real");
  ASSERT_TRUE(CreateOwnedDir(real, "unit test").ok());
  const std::string linked = tmp_.Sub("linked");
  fs::create_directory(linked);
  WriteFile(linked + "/f", "x");
  fs::create_symlink(real + "/" + kOwnedDirMarker,
                     linked + "/" + kOwnedDirMarker);
  absl::Status s = RemoveOwnedDir(linked);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("not a regular file"));
  EXPECT_TRUE(Exists(linked + "/f"));
}

TEST_F(OwnedDirTest, FilesAndAbsentPaths) {
  const std::string file = tmp_.Sub("file");
  WriteFile(file, "x");
  EXPECT_EQ(ResetOwnedDir(file, "unit test").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(RemoveOwnedDir(file).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadFile(file), "x");
  EXPECT_TRUE(RemoveOwnedDir(tmp_.Sub("absent")).ok());
}

TEST_F(OwnedDirTest, TempDirsAreOwnedAndRemovable) {
  auto made = CreateOwnedTempDir("unit", tmp_.path());
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_THAT(*made, HasSubstr("/clover-unit-"));
  EXPECT_TRUE(Exists(*made + "/" + kOwnedDirMarker));
  WriteFile(*made + "/f", "x");
  EXPECT_TRUE(RemoveOwnedDir(*made).ok());
  EXPECT_FALSE(Exists(*made));
}

}  // namespace
}  // namespace clover
