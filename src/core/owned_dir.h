// Directories Clover creates, and therefore may clear or delete.
//
// Creating one writes a marker file, `.clover-owned`, into it: its first line
// is kOwnedDirMagic, then who created it. Clover clears or removes a directory
// only if
//   - it is not protected (core/protected_paths.h: /, system directories, the
//     temporary directory, the home directory or anything above it), and
//   - that very directory (not a parent) holds the marker, as a regular file
//     (not a link) owned by the effective user, starting with the magic line.
// Anything else is refused with FailedPrecondition naming the path: a
// directory without the marker is never touched, whatever it holds. An
// existing empty directory may be adopted (the marker written into it).
//
// Deleting works on open directory descriptors and never follows a symbolic
// link: a link inside an owned directory is removed as a link and its target
// survives. It never crosses into another mount: a mount point inside an owned
// directory is an error and nothing below it is touched. The marker is removed
// last, so an interrupted removal can be finished by running it again.
//
// A `path` that is itself a symbolic link stands for the directory it resolves
// to (the rules above apply to that directory; the link is left alone).
#ifndef CLOVER_CORE_OWNED_DIR_H_
#define CLOVER_CORE_OWNED_DIR_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover {

inline constexpr char kOwnedDirMarker[] = ".clover-owned";
inline constexpr char kOwnedDirMagic[] = "clover-owned-directory v1";

// Makes `path` a directory Clover owns: creates it (mode 0700, missing parents
// as usual) with the marker, adopts it if it exists and is empty, or accepts it
// if it already holds a valid marker. `creator` (e.g. "clover demo") is written
// into the marker for the humans who find it. FailedPrecondition: protected
// path, not a directory, a marker that is not valid, or not empty and no
// marker. Internal: I/O errors.
[[nodiscard]] absl::Status CreateOwnedDir(const std::string& path,
                                          absl::string_view creator);

// CreateOwnedDir, then deletes everything in the directory but the marker: an
// empty owned directory, ready to be filled again. Same errors.
[[nodiscard]] absl::Status ResetOwnedDir(const std::string& path,
                                         absl::string_view creator);

// Deletes the owned directory `path` and everything in it. OK if nothing is
// at `path`. FailedPrecondition (nothing deleted): protected, not a
// directory, no valid marker. Internal: an I/O error part-way (the marker
// stays, so the call can be repeated).
[[nodiscard]] absl::Status RemoveOwnedDir(const std::string& path);

// Creates a fresh owned directory `<base>/clover-<tag>-XXXXXX` (mkdtemp,
// mode 0700) and returns its path. `base` empty: $TMPDIR or /tmp.
[[nodiscard]] absl::StatusOr<std::string> CreateOwnedTempDir(
    absl::string_view tag, const std::string& base = "");

}  // namespace clover

#endif  // CLOVER_CORE_OWNED_DIR_H_
