#include "core/owned_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/protected_paths.h"
#include "core/status_macros.h"

namespace clover {
namespace {

namespace fs = std::filesystem;

// Deeper trees are refused rather than risk the stack or the descriptor limit
// (each level holds one open directory).
constexpr int kMaxDepth = 64;
constexpr size_t kMaxMarkerBytes = 4096;

absl::Status Io(absl::string_view what, const std::string& path, int err) {
  return absl::InternalError(
      absl::StrCat(what, " '", path, "': ", std::strerror(err)));
}

// A directory descriptor, closed on destruction.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// The mount a descriptor lies in: a bind mount shares st_dev with its source,
// so the mount id is what tells one mount from another. nullopt if the kernel
// does not report it (st_dev is still compared).
std::optional<uint64_t> MountId(int dirfd, const char* name) {
#ifdef STATX_MNT_ID
  struct statx stx;
  if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH, STATX_MNT_ID,
            &stx) == 0 &&
      (stx.stx_mask & STATX_MNT_ID) != 0) {
    return stx.stx_mnt_id;
  }
#endif
  (void)dirfd;
  (void)name;
  return std::nullopt;
}

struct Mount {
  dev_t dev;
  std::optional<uint64_t> id;
};

bool SameMount(const Mount& a, const Mount& b) {
  if (a.dev != b.dev) return false;
  return !a.id.has_value() || !b.id.has_value() || *a.id == *b.id;
}

enum class MarkerState { kValid, kAbsent, kInvalid };

// Reads the marker in the directory `dirfd` without following links.
MarkerState CheckMarker(int dirfd, std::string* why) {
  struct stat st;
  if (fstatat(dirfd, kOwnedDirMarker, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return MarkerState::kAbsent;
    *why = absl::StrCat("its ", kOwnedDirMarker,
                        " cannot be read: ", std::strerror(errno));
    return MarkerState::kInvalid;
  }
  if (!S_ISREG(st.st_mode)) {
    *why = absl::StrCat("its ", kOwnedDirMarker, " is not a regular file");
    return MarkerState::kInvalid;
  }
  if (st.st_uid != geteuid()) {
    *why = absl::StrCat("its ", kOwnedDirMarker,
                        " belongs to another user (uid ", st.st_uid, ")");
    return MarkerState::kInvalid;
  }
  Fd fd(openat(dirfd, kOwnedDirMarker, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  std::string text(kMaxMarkerBytes, '\0');
  ssize_t n = fd.get() < 0 ? -1 : read(fd.get(), text.data(), text.size());
  if (n < 0) {
    *why = absl::StrCat("its ", kOwnedDirMarker,
                        " cannot be read: ", std::strerror(errno));
    return MarkerState::kInvalid;
  }
  text.resize(static_cast<size_t>(n));
  if (text.substr(0, text.find('\n')) != kOwnedDirMagic) {
    *why = absl::StrCat("its ", kOwnedDirMarker, " was not written by Clover");
    return MarkerState::kInvalid;
  }
  return MarkerState::kValid;
}

absl::Status WriteMarker(int dirfd, const std::string& path,
                         absl::string_view creator) {
  Fd fd(openat(dirfd, kOwnedDirMarker,
               O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (fd.get() < 0) return Io("cannot write the marker in", path, errno);
  std::string text = absl::StrCat(
      kOwnedDirMagic, "\ncreated by: ", creator,
      "\nClover created this directory and may delete it with everything in "
      "it.\nRemove this file to stop Clover from doing so.\n");
  if (write(fd.get(), text.data(), text.size()) !=
      static_cast<ssize_t>(text.size())) {
    return Io("cannot write the marker in", path, errno);
  }
  return absl::OkStatus();
}

// The names in directory `dirfd` but "." and "..".
absl::StatusOr<std::vector<std::string>> List(int dirfd,
                                              const std::string& path) {
  int copy = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return Io("cannot list", path, errno);
  DIR* dir = fdopendir(copy);
  if (dir == nullptr) {
    int err = errno;
    close(copy);
    return Io("cannot list", path, err);
  }
  rewinddir(dir);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = readdir(dir)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
      names.emplace_back(e->d_name);
  }
  int err = errno;
  closedir(dir);
  if (err != 0) return Io("cannot list", path, err);
  return names;
}

// Deletes everything in directory `dirfd` (shown as `path`), but the marker if
// `keep_marker`. Never follows a link; refuses to enter another mount.
absl::Status ClearAt(int dirfd, const std::string& path, const Mount& mount,
                     int depth, bool keep_marker) {
  if (depth > kMaxDepth) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing to delete '", path, "': nested more than ",
                     kMaxDepth, " directories deep"));
  }
  CLOVER_ASSIGN_OR_RETURN(std::vector<std::string> names, List(dirfd, path));
  for (const std::string& name : names) {
    if (keep_marker && name == kOwnedDirMarker) continue;
    const std::string child = absl::StrCat(path, "/", name);
    struct stat st;
    if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      return Io("cannot inspect", child, errno);
    }
    if (!S_ISDIR(st.st_mode)) {  // files, links, sockets: the entry only
      if (unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT)
        return Io("cannot delete", child, errno);
      continue;
    }
    Mount sub_mount{st.st_dev, MountId(dirfd, name.c_str())};
    if (!SameMount(mount, sub_mount)) {
      return absl::FailedPreconditionError(
          absl::StrCat("refusing to delete '", child,
                       "': another file system is mounted "
                       "there; unmount it first"));
    }
    // O_NOFOLLOW: if the entry was swapped for a link since fstatat, the open
    // fails instead of entering the link's target.
    Fd sub(openat(dirfd, name.c_str(),
                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (sub.get() < 0) return Io("cannot open", child, errno);
    struct stat opened;
    if (fstat(sub.get(), &opened) != 0 || opened.st_dev != st.st_dev ||
        opened.st_ino != st.st_ino) {
      return absl::InternalError(
          absl::StrCat("'", child, "' changed while being deleted"));
    }
    CLOVER_RETURN_IF_ERROR(
        ClearAt(sub.get(), child, mount, depth + 1, /*keep_marker=*/false));
    if (unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      return Io("cannot delete", child, errno);
  }
  return absl::OkStatus();
}

// The canonical `path`, checked not protected.
absl::StatusOr<fs::path> Unprotected(const std::string& path) {
  CLOVER_RETURN_IF_ERROR(CheckNotProtected(path));
  return CanonicalPath(path);
}

absl::Status NotADirectory(const std::string& path) {
  return absl::FailedPreconditionError(
      absl::StrCat("refusing to use '", path, "': it is not a directory"));
}

// Opens the existing directory `dir` (canonical) without following a link.
absl::StatusOr<int> OpenDir(const fs::path& dir, const std::string& shown) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) return fd;
  if (errno == ENOTDIR || errno == ELOOP) return NotADirectory(shown);
  return Io("cannot open", shown, errno);
}

// Opens (creating or adopting as needed) the owned directory at `path`.
absl::StatusOr<int> OpenOwned(const std::string& path,
                              absl::string_view creator) {
  CLOVER_ASSIGN_OR_RETURN(fs::path dir, Unprotected(path));
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(dir, ec))) {
    fs::create_directories(dir.parent_path(), ec);
    if (ec) {
      return absl::InternalError(absl::StrCat(
          "cannot create '", dir.parent_path().string(), "': ", ec.message()));
    }
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return Io("cannot create", path, errno);
  }
  CLOVER_ASSIGN_OR_RETURN(int raw, OpenDir(dir, path));
  Fd fd(raw);
  std::string why;
  switch (CheckMarker(fd.get(), &why)) {
    case MarkerState::kValid:
      break;
    case MarkerState::kInvalid:
      return absl::FailedPreconditionError(
          absl::StrCat("refusing to use '", path, "': ", why));
    case MarkerState::kAbsent: {
      CLOVER_ASSIGN_OR_RETURN(std::vector<std::string> names,
                              List(fd.get(), path));
      if (!names.empty()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "refusing to use '", path, "': it is not empty and has no ",
            kOwnedDirMarker,
            " marker (Clover deletes only directories it created); choose "
            "another directory or remove this one by hand"));
      }
      CLOVER_RETURN_IF_ERROR(WriteMarker(fd.get(), path, creator));
      break;
    }
  }
  return fd.release();
}

}  // namespace

absl::Status CreateOwnedDir(const std::string& path,
                            absl::string_view creator) {
  CLOVER_ASSIGN_OR_RETURN(int raw, OpenOwned(path, creator));
  Fd fd(raw);
  return absl::OkStatus();
}

absl::Status ResetOwnedDir(const std::string& path, absl::string_view creator) {
  CLOVER_ASSIGN_OR_RETURN(int raw, OpenOwned(path, creator));
  Fd fd(raw);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Io("cannot inspect", path, errno);
  Mount mount{st.st_dev, MountId(fd.get(), "")};
  return ClearAt(fd.get(), path, mount, 0, /*keep_marker=*/true);
}

absl::Status RemoveOwnedDir(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) return absl::OkStatus();
  CLOVER_ASSIGN_OR_RETURN(fs::path dir, Unprotected(path));
  CLOVER_ASSIGN_OR_RETURN(int raw, OpenDir(dir, path));
  Fd fd(raw);
  std::string why;
  switch (CheckMarker(fd.get(), &why)) {
    case MarkerState::kValid:
      break;
    case MarkerState::kAbsent:
      return absl::FailedPreconditionError(
          absl::StrCat("refusing to delete '", path, "': it has no ",
                       kOwnedDirMarker, " marker (Clover did not create it)"));
    case MarkerState::kInvalid:
      return absl::FailedPreconditionError(
          absl::StrCat("refusing to delete '", path, "': ", why));
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Io("cannot inspect", path, errno);
  Mount mount{st.st_dev, MountId(fd.get(), "")};
  CLOVER_RETURN_IF_ERROR(
      ClearAt(fd.get(), path, mount, 0, /*keep_marker=*/true));
  if (unlinkat(fd.get(), kOwnedDirMarker, 0) != 0)
    return Io("cannot delete the marker in", path, errno);
  // Only an empty directory goes: if `dir` was swapped meanwhile, this fails.
  if (rmdir(dir.c_str()) != 0 && errno != ENOENT)
    return Io("cannot delete", path, errno);
  return absl::OkStatus();
}

absl::StatusOr<std::string> CreateOwnedTempDir(absl::string_view tag,
                                               const std::string& base) {
  fs::path parent = base;
  if (parent.empty()) {
    std::error_code ec;
    parent = fs::temp_directory_path(ec);
    if (ec) parent = "/tmp";
  }
  std::string templ =
      (parent / absl::StrCat("clover-", tag, "-XXXXXX")).string();
  if (mkdtemp(templ.data()) == nullptr)
    return Io("cannot create", templ, errno);
  CLOVER_RETURN_IF_ERROR(CreateOwnedDir(templ, absl::StrCat("temp:", tag)));
  return templ;
}

}  // namespace clover
