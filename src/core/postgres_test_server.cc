#include "core/postgres_test_server.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/owned_dir.h"
#include "core/status_macros.h"

namespace clover {
namespace {

constexpr char kDefaultBinDir[] = "/usr/lib/postgresql/15/bin";
constexpr char kServerUser[] = "postgres";

// Who runs the server binaries: ourselves, or (as root) the postgres user.
struct RunAs {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

std::string Tail(const std::string& path, size_t max_bytes = 600) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > max_bytes) s = "..." + s.substr(s.size() - max_bytes);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Runs argv (argv[0] an absolute path) with stdout/stderr appended to
// `log_path`, as `who`, in directory `cwd`; waits for it. Only
// async-signal-safe calls between fork and exec.
absl::Status Run(const std::vector<std::string>& argv, const RunAs& who,
                 const std::string& cwd, const std::string& log_path) {
  const int log_fd =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(
        absl::StrCat("open ", log_path, ": ", std::strerror(errno)));
  }
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
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
    // The postmaster outlives this call: it must not hold the test's pipes.
    for (int fd = 3; fd < 1024; ++fd) close(fd);
    if (who.switch_user) {
      const gid_t groups[] = {who.gid};
      if (setgroups(1, groups) != 0 || setgid(who.gid) != 0 ||
          setuid(who.uid) != 0) {
        _exit(126);
      }
    }
    if (chdir(cwd.c_str()) != 0) _exit(126);
    execv(args[0], args.data());
    _exit(127);
  }
  close(log_fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
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

absl::StatusOr<RunAs> ResolveUser() {
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
        "initdb/postgres as (they refuse to run as root)");
  }
  who.switch_user = true;
  who.uid = pw.pw_uid;
  who.gid = pw.pw_gid;
  return who;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresTestServer>> PostgresTestServer::Start(
    const PostgresTestServerOptions& options) {
  std::string bin_dir = options.bin_dir;
  if (bin_dir.empty()) {
    const char* env = std::getenv("CLOVER_POSTGRES_BIN");
    bin_dir = env != nullptr && *env != '\0' ? env : kDefaultBinDir;
  }
  for (const char* tool : {"initdb", "pg_ctl", "postgres", "createdb"}) {
    const std::string path = absl::StrCat(bin_dir, "/", tool);
    if (access(path.c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("PostgreSQL server binary ", path,
                       " is not installed (scripts/bootstrap.sh installs "
                       "postgresql; set CLOVER_POSTGRES_BIN to use another)"));
    }
  }
  CLOVER_ASSIGN_OR_RETURN(const RunAs who, ResolveUser());

  std::unique_ptr<PostgresTestServer> server(new PostgresTestServer());
  server->bin_dir_ = bin_dir;
  // The socket path must stay under 107 bytes: prefer a short base.
  const char* tmp = std::getenv("TMPDIR");
  CLOVER_ASSIGN_OR_RETURN(
      const std::string templ,
      CreateOwnedTempDir("pg",
                         tmp != nullptr && *tmp != '\0' && std::strlen(tmp) < 60
                             ? tmp
                             : "/tmp"));
  server->dir_ = templ;
  if (who.switch_user && chown(templ.c_str(), who.uid, who.gid) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot hand ", templ,
                     " to the postgres user: ", std::strerror(errno)));
  }
  CLOVER_RETURN_IF_ERROR(server->StartWatchdog());
  const std::string& dir = server->dir_;
  const std::string data = dir + "/data";
  const std::string log = dir + "/steps.log";

  CLOVER_RETURN_IF_ERROR(
      Run({bin_dir + "/initdb", "-D", data, "-U", "postgres", "-A", "trust",
           "-E", "UTF8", "--locale=C", "--no-sync"},
          who, dir, log));
  server->options_ = options;
  CLOVER_RETURN_IF_ERROR(server->StartServer());
  CLOVER_RETURN_IF_ERROR(Run({bin_dir + "/createdb", "-h", dir, "-p", "5432",
                              "-U", "postgres", options.database},
                             who, dir, log));
  server->dsn_ = absl::StrCat(
      "host=", dir, " port=5432 user=postgres dbname=", options.database);
  return server;
}

absl::Status PostgresTestServer::StartWatchdog() {
  CLOVER_ASSIGN_OR_RETURN(const RunAs who, ResolveUser());
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  // Blocks until every copy of the write end is closed: by the destructor,
  // or by the kernel when this process dies, however it dies. Deletes the
  // directory only while it carries Clover's marker (core/owned_dir.h), never
  // crossing into another file system (rm never follows links).
  const std::vector<std::string> argv = {
      "/bin/sh",
      "-c",
      "read _; \"$0\" -D \"$1/data\" -m immediate -w stop >/dev/null 2>&1;"
      " [ \"$(head -n 1 \"$1/$2\" 2>/dev/null)\" = \"$3\" ] &&"
      " rm -rf --one-file-system \"$1\"",
      bin_dir_ + "/pg_ctl",
      dir_,
      kOwnedDirMarker,
      kOwnedDirMagic};
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
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
    if (who.switch_user) {
      const gid_t groups[] = {who.gid};
      if (setgroups(1, groups) != 0 || setgid(who.gid) != 0 ||
          setuid(who.uid) != 0) {
        _exit(126);
      }
    }
    if (chdir("/") != 0) _exit(126);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[0]);
  watchdog_fd_ = fds[1];
  watchdog_pid_ = pid;
  return absl::OkStatus();
}

absl::Status PostgresTestServer::StartServer() {
  CLOVER_ASSIGN_OR_RETURN(const RunAs who, ResolveUser());
  // Unix socket only, in our own directory: nothing else can connect, and
  // parallel servers never compete for a port.
  const std::string server_opts = absl::StrCat(
      "-k '", dir_,
      "' -c listen_addresses='' -c fsync=", options_.fsync ? "on" : "off",
      " -c synchronous_commit=on -c max_connections=40"
      " -c shared_buffers=32MB -c max_wal_size=1GB");
  absl::Status started = Run(
      {bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/server.log",
       "-w", "-t", absl::StrCat(options_.startup_timeout_seconds), "-o",
       server_opts, "start"},
      who, dir_, dir_ + "/steps.log");
  if (!started.ok()) {
    return absl::InternalError(absl::StrCat(
        started.message(), "; server log: ", Tail(dir_ + "/server.log")));
  }
  return absl::OkStatus();
}

absl::Status PostgresTestServer::StopServer() {
  CLOVER_ASSIGN_OR_RETURN(const RunAs who, ResolveUser());
  return Run({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "immediate",
              "-w", "stop"},
             who, dir_, dir_ + "/steps.log");
}

absl::Status PostgresTestServer::CrashAndRestart() {
  CLOVER_RETURN_IF_ERROR(StopServer());
  return StartServer();
}

PostgresTestServer::~PostgresTestServer() {
  if (watchdog_fd_ >= 0) {
    close(watchdog_fd_);  // the watchdog stops the server and removes dir_
    int status = 0;
    while (waitpid(watchdog_pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (!dir_.empty()) {
    // In case the watchdog could not; as root the files are the postgres
    // user's but the marker is ours.
    if (absl::Status s = RemoveOwnedDir(dir_); !s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    }
  }
}

}  // namespace clover
