// Library clover_process: runs the server programs that tests and `clover
// region up` (region/cluster.h) start themselves (PostgreSQL, Patroni, etcd)
// as the right user: ourselves, or, when the test runs as root, the
// `postgres` system user (initdb and postgres refuse to run as root).
//
// Thread-safety: the functions are thread-safe; between fork and exec the
// child makes only async-signal-safe calls.
#ifndef CLOVER_CORE_TEST_PROCESS_H_
#define CLOVER_CORE_TEST_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace clover::test_process {

// Who runs the server binaries: ourselves, or (as root) the postgres user.
struct RunAs {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Ourselves when not root; else the `postgres` system user. Errors:
// FailedPrecondition when root and there is no such user.
[[nodiscard]] absl::StatusOr<RunAs> ResolveServerUser();

// The last `max_bytes` of the file at `path` (for error messages).
std::string Tail(const std::string& path, size_t max_bytes = 600);

// Runs argv (argv[0] an absolute path) with stdout/stderr appended to
// `log_path`, as `who`, in directory `cwd`, and waits for it. Errors: Internal
// if it cannot start or exits non-zero (the message quotes the log's tail).
[[nodiscard]] absl::Status Run(const std::vector<std::string>& argv,
                               const RunAs& who, const std::string& cwd,
                               const std::string& log_path);

// Starts argv as above in a new session (setsid: a Ctrl-C of the test's
// process group does not reach it) and returns its pid without waiting; the
// caller reaps it (waitpid). Errors: Internal if fork or the log file fails.
[[nodiscard]] absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv,
                                          const RunAs& who,
                                          const std::string& cwd,
                                          const std::string& log_path);

// Starts `/bin/sh -c script args...` in a new session as `who`, with its
// stdin the read end of a pipe whose write end is returned in *write_fd
// (close-on-exec). The script typically blocks on `read` until every copy of
// the write end is closed: by the owner's destructor, or by the kernel when
// the test process dies however it dies. Returns the shell's pid.
[[nodiscard]] absl::StatusOr<pid_t> SpawnWatchdog(
    const std::string& script, const std::vector<std::string>& args,
    const RunAs& who, int* write_fd);

}  // namespace clover::test_process

#endif  // CLOVER_CORE_TEST_PROCESS_H_
