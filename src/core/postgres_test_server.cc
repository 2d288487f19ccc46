#include "core/postgres_test_server.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/owned_dir.h"
#include "core/status_macros.h"
#include "core/test_process.h"

namespace clover {
namespace {

constexpr char kDefaultBinDir[] = "/usr/lib/postgresql/15/bin";

using test_process::ResolveServerUser;
using test_process::Run;
using test_process::RunAs;
using test_process::Tail;

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
  CLOVER_ASSIGN_OR_RETURN(const RunAs who, ResolveServerUser());

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
  CLOVER_ASSIGN_OR_RETURN(const RunAs who, ResolveServerUser());
  // Blocks until every copy of the write end is closed: by the destructor,
  // or by the kernel when this process dies, however it dies. Deletes the
  // directory only while it carries Clover's marker (core/owned_dir.h), never
  // crossing into another file system (rm never follows links).
  int fd = -1;
  CLOVER_ASSIGN_OR_RETURN(
      const pid_t pid,
      test_process::SpawnWatchdog(
          "read _; \"$0\" -D \"$1/data\" -m immediate -w stop >/dev/null 2>&1;"
          " [ \"$(head -n 1 \"$1/$2\" 2>/dev/null)\" = \"$3\" ] &&"
          " rm -rf --one-file-system \"$1\"",
          {bin_dir_ + "/pg_ctl", dir_, kOwnedDirMarker, kOwnedDirMagic}, who,
          &fd));
  watchdog_fd_ = fd;
  watchdog_pid_ = pid;
  return absl::OkStatus();
}

absl::Status PostgresTestServer::StartServer() {
  CLOVER_ASSIGN_OR_RETURN(const RunAs who, ResolveServerUser());
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
  CLOVER_ASSIGN_OR_RETURN(const RunAs who, ResolveServerUser());
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
