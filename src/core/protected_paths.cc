#include "core/protected_paths.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"

namespace clover {
namespace {

namespace fs = std::filesystem;

// Whole-system directories. A Clover data directory may live below one of them
// (/var/lib/clover), never be one.
constexpr const char* kSystemDirs[] = {
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/lost+found",
    "/media",
    "/mnt",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/snap",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/var",
    "/usr/bin",
    "/usr/games",
    "/usr/include",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/libx32",
    "/usr/local",
    "/usr/local/bin",
    "/usr/local/etc",
    "/usr/local/lib",
    "/usr/local/sbin",
    "/usr/local/share",
    "/usr/sbin",
    "/usr/share",
    "/usr/src",
    "/var/backups",
    "/var/cache",
    "/var/lib",
    "/var/local",
    "/var/lock",
    "/var/log",
    "/var/mail",
    "/var/opt",
    "/var/run",
    "/var/spool",
    "/var/tmp",
    "/var/www",
};

// True if `a` is `b` or a directory above it (both canonical).
bool SameOrAbove(const fs::path& a, const fs::path& b) {
  auto ai = a.begin(), bi = b.begin();
  for (; ai != a.end(); ++ai, ++bi) {
    if (bi == b.end() || *ai != *bi) return false;
  }
  return true;
}

std::string PasswdHome(bool by_name, uid_t uid, const char* name) {
  struct passwd pw;
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  int rc = by_name ? getpwnam_r(name, &pw, buf.data(), buf.size(), &found)
                   : getpwuid_r(uid, &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr || pw.pw_dir == nullptr) return "";
  return pw.pw_dir;
}

// The user's home directories, canonical; empty entries dropped.
std::vector<fs::path> HomeDirs() {
  std::vector<std::string> raw;
  if (const char* home = std::getenv("HOME")) raw.push_back(home);
  raw.push_back(PasswdHome(false, geteuid(), nullptr));
  if (const char* sudo = std::getenv("SUDO_USER"); sudo && *sudo) {
    raw.push_back(PasswdHome(true, 0, sudo));
  }
  std::vector<fs::path> out;
  for (const std::string& h : raw) {
    if (h.empty()) continue;
    auto c = CanonicalPath(h);
    if (c.ok()) out.push_back(*c);
  }
  return out;
}

}  // namespace

absl::StatusOr<fs::path> CanonicalPath(const fs::path& path) {
  if (path.empty()) return absl::InvalidArgumentError("empty path");
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot resolve '", path.string(), "': ", ec.message()));
  }
  fs::path canonical = fs::weakly_canonical(absolute, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot resolve '", path.string(), "': ", ec.message()));
  }
  // weakly_canonical keeps a trailing separator ("/x/" -> "/x/"): drop it so
  // comparisons see one spelling.
  if (canonical.has_relative_path() && !canonical.has_filename()) {
    canonical = canonical.parent_path();
  }
  return canonical;
}

absl::Status CheckNotProtected(const fs::path& path) {
  auto resolved = CanonicalPath(path);
  if (!resolved.ok()) return resolved.status();
  const fs::path& p = *resolved;
  std::string shown = absl::StrCat("'", path.string(), "'");
  if (p.string() != path.string()) {
    absl::StrAppend(&shown, " (resolves to '", p.string(), "')");
  }
  auto refuse = [&](absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing to use ", shown, ": it is ", why));
  };
  if (p == p.root_path()) return refuse("the root directory");
  for (const char* dir : kSystemDirs) {
    if (p == fs::path(dir)) return refuse("a system directory");
    // /bin may be a link to /usr/bin: compare with what it resolves to too.
    auto c = CanonicalPath(dir);
    if (c.ok() && p == *c) return refuse("a system directory");
  }
  std::error_code ec;
  fs::path tmp = fs::temp_directory_path(ec);
  if (!ec) {
    auto c = CanonicalPath(tmp);
    if (c.ok() && p == *c) return refuse("the temporary directory");
  }
  for (const fs::path& home : HomeDirs()) {
    if (SameOrAbove(p, home)) {
      return refuse(p == home ? "a home directory"
                              : "a directory holding a home directory");
    }
  }
  return absl::OkStatus();
}

}  // namespace clover
