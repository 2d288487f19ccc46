// Directories no Clover command may adopt, clear or delete, whatever they
// hold: the root, the system's own directories, the temporary directory
// itself, and the user's home directory or any directory above it. This is the
// last line of defence behind the ownership marker (core/owned_dir.h): a
// marker can be planted, a protected path stays protected.
#ifndef CLOVER_CORE_PROTECTED_PATHS_H_
#define CLOVER_CORE_PROTECTED_PATHS_H_

#include <filesystem>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace clover {

// `path` made absolute, with every symbolic link of the part that exists
// resolved and "." / ".." folded (std::filesystem::weakly_canonical).
// Internal if the file system cannot be read.
[[nodiscard]] absl::StatusOr<std::filesystem::path> CanonicalPath(
    const std::filesystem::path& path);

// FailedPrecondition, naming `path` (and what it resolves to) and the reason,
// if `path` resolves to: "/"; a system directory (/bin, /etc, /usr, /var, ...
// and their usual top-level children such as /usr/lib or /var/lib); the
// temporary directory ($TMPDIR or /tmp) itself; or the home directory of the
// user ($HOME, the effective user's passwd entry, and $SUDO_USER's) or any
// directory holding it. Paths below those (e.g. /tmp/x, ~/x) are not
// protected by this check.
[[nodiscard]] absl::Status CheckNotProtected(const std::filesystem::path& path);

}  // namespace clover

#endif  // CLOVER_CORE_PROTECTED_PATHS_H_
