// Test support (library clover_test_support, never linked into the product).
// A throwaway PostgreSQL 15 server for tests and benchmarks: initdb into a
// fresh temporary directory, start it listening only on a unix socket inside
// that directory (no TCP port, so parallel tests never collide), create a
// database, and on destruction stop it and remove the directory.
//
// initdb and postgres refuse to run as root. When the process is root, the
// server binaries run as the `postgres` system user (through runuser, else
// setpriv) and the directory is handed to that user.
//
// Thread-safety: a started server is immutable; dsn() may be read from any
// thread.
#ifndef CLOVER_CORE_POSTGRES_TEST_SERVER_H_
#define CLOVER_CORE_POSTGRES_TEST_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace clover {

struct PostgresTestServerOptions {
  // Where the server binaries live; empty: $CLOVER_POSTGRES_BIN, else
  // /usr/lib/postgresql/15/bin.
  std::string bin_dir;
  std::string database = "clover_test";
  // fsync on by default so that durability figures are real; tests that only
  // check behaviour may turn it off for speed.
  bool fsync = true;
  int startup_timeout_seconds = 60;
};

class PostgresTestServer {
 public:
  // Errors: FailedPrecondition when PostgreSQL cannot run here at all (binaries
  // missing, or root without a `postgres` user / runuser / setpriv): callers
  // that are tests should skip with the message. Internal when a step fails;
  // the message quotes the tail of the step's output.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PostgresTestServer>>
  Start(const PostgresTestServerOptions& options = {});

  // Stops the server (immediate shutdown) and removes its directory. A
  // watchdog process does the same if this process dies without running the
  // destructor (a crashed or killed test leaves no server behind).
  ~PostgresTestServer();
  PostgresTestServer(const PostgresTestServer&) = delete;
  PostgresTestServer& operator=(const PostgresTestServer&) = delete;

  // Simulates a server crash: immediate shutdown (no shutdown checkpoint, so
  // the next start replays the WAL), then starts it again on the same socket.
  // Open connections break. Errors: Internal if a step fails.
  [[nodiscard]] absl::Status CrashAndRestart();
  // The two halves of CrashAndRestart, for a test that needs the database
  // down for a while (a node's /readyz while it is).
  [[nodiscard]] absl::Status Stop() { return StopServer(); }
  [[nodiscard]] absl::Status Restart() { return StartServer(); }

  // libpq conninfo of the test database: "host=<socket dir> port=5432
  // user=postgres dbname=<database>".
  const std::string& dsn() const { return dsn_; }
  // The directory holding data, socket and server log.
  const std::string& dir() const { return dir_; }

 private:
  PostgresTestServer() = default;
  absl::Status StartWatchdog();
  absl::Status StartServer();
  absl::Status StopServer();

  PostgresTestServerOptions options_;
  std::string bin_dir_;
  std::string dir_;
  std::string dsn_;
  int watchdog_fd_ = -1;  // its closing (or our death) wakes the watchdog
  int watchdog_pid_ = -1;
};

}  // namespace clover

#endif  // CLOVER_CORE_POSTGRES_TEST_SERVER_H_
