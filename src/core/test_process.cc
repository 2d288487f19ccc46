#include "core/test_process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace clover::test_process {
namespace {

constexpr char kServerUser[] = "postgres";

// In the child, after fork: become `who` (async-signal-safe calls only).
void BecomeOrDie(const RunAs& who) {
  if (!who.switch_user) return;
  const gid_t groups[] = {who.gid};
  if (setgroups(1, groups) != 0 || setgid(who.gid) != 0 ||
      setuid(who.uid) != 0) {
    _exit(126);
  }
}

std::vector<char*> Argv(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  return args;
}

absl::StatusOr<pid_t> ForkExec(const std::vector<std::string>& argv,
                               const RunAs& who, const std::string& cwd,
                               const std::string& log_path, bool new_session) {
  const int log_fd =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(
        absl::StrCat("open ", log_path, ": ", std::strerror(errno)));
  }
  std::vector<char*> args = Argv(argv);
  const pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    // Servers outlive this call: they must not hold the test's pipes.
    for (int fd = 3; fd < 1024; ++fd) close(fd);
    if (new_session) setsid();
    BecomeOrDie(who);
    if (chdir(cwd.c_str()) != 0) _exit(126);
    execv(args[0], args.data());
    _exit(127);
  }
  close(log_fd);
  return pid;
}

}  // namespace

absl::StatusOr<RunAs> ResolveServerUser() {
  RunAs who;
  if (geteuid() != 0) return who;
  // getpwnam_r: the test binary may already run threads.
  struct passwd pw;
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwnam_r(kServerUser, &pw, buf.data(), buf.size(), &found) != 0 ||
      found == nullptr) {
    return absl::FailedPreconditionError(
        "running as root and there is no 'postgres' system user to run "
        "the servers as (initdb and postgres refuse to run as root)");
  }
  who.switch_user = true;
  who.uid = pw.pw_uid;
  who.gid = pw.pw_gid;
  return who;
}

std::string Tail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > max_bytes) s = "..." + s.substr(s.size() - max_bytes);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

absl::Status Run(const std::vector<std::string>& argv, const RunAs& who,
                 const std::string& cwd, const std::string& log_path) {
  absl::StatusOr<pid_t> pid = ForkExec(argv, who, cwd, log_path, false);
  if (!pid.ok()) return pid.status();
  int status = 0;
  while (waitpid(*pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(
          absl::StrCat("waitpid: ", std::strerror(errno)));
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  const std::string how = WIFEXITED(status)
                              ? absl::StrCat("exit code ", WEXITSTATUS(status))
                              : absl::StrCat("signal ", WTERMSIG(status));
  return absl::InternalError(
      absl::StrCat(std::filesystem::path(argv[0]).filename().string(),
                   " failed (", how, "): ", Tail(log_path)));
}

absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv,
                            const RunAs& who, const std::string& cwd,
                            const std::string& log_path) {
  return ForkExec(argv, who, cwd, log_path, true);
}

absl::StatusOr<pid_t> SpawnWatchdog(const std::string& script,
                                    const std::vector<std::string>& args,
                                    const RunAs& who, int* write_fd) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  std::vector<std::string> argv = {"/bin/sh", "-c", script};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargs = Argv(argv);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    dup2(fds[0], STDIN_FILENO);
    const int null_fd = open("/dev/null", O_WRONLY);
    if (null_fd >= 0) {
      dup2(null_fd, STDOUT_FILENO);
      dup2(null_fd, STDERR_FILENO);
    }
    for (int fd = 3; fd < 1024; ++fd) close(fd);
    // Out of the test's process group: a Ctrl-C or a group kill of the test
    // must not take the watchdog with it.
    setsid();
    BecomeOrDie(who);
    if (chdir("/") != 0) _exit(126);
    execv(cargs[0], cargs.data());
    _exit(127);
  }
  close(fds[0]);
  *write_fd = fds[1];
  return pid;
}

}  // namespace clover::test_process
