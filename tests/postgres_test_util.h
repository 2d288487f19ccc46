// Shared by the PostgreSQL driver tests: one throwaway server per test binary
// (started on first use, stopped at exit), and a raw libpq connection for
// tests that need to reach behind a driver (inject failures, kill sessions).
#ifndef CLOVER_TESTS_POSTGRES_TEST_UTIL_H_
#define CLOVER_TESTS_POSTGRES_TEST_UTIL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/postgres_connection.h"
#include "core/postgres_test_server.h"
#include "gtest/gtest.h"

namespace clover::pgtest {

// The binary's server, or the reason there is none. A FailedPrecondition
// (PostgreSQL cannot run on this machine) makes tests skip; any other error
// fails them.
inline const absl::StatusOr<std::unique_ptr<PostgresTestServer>>& Server() {
  static auto* server = new absl::StatusOr<std::unique_ptr<PostgresTestServer>>(
      PostgresTestServer::Start());
  // Stops the server at exit (the StatusOr itself is leaked on purpose so that
  // no test can outlive it).
  static const bool registered = [] {
    std::atexit([] {
      if (server->ok()) server->value().reset();
    });
    return true;
  }();
  (void)registered;
  return *server;
}

// Skips the current test when PostgreSQL cannot run here; fails it when the
// server did not start for another reason.
#define CLOVER_REQUIRE_POSTGRES()                                      \
  do {                                                                 \
    const auto& clover_pg_server_ = ::clover::pgtest::Server();        \
    if (!clover_pg_server_.ok() &&                                     \
        absl::IsFailedPrecondition(clover_pg_server_.status())) {      \
      GTEST_SKIP() << "PostgreSQL unavailable: "                       \
                   << clover_pg_server_.status().message();            \
    }                                                                  \
    ASSERT_TRUE(clover_pg_server_.ok()) << clover_pg_server_.status(); \
  } while (0)

inline const std::string& Dsn() { return Server().value()->dsn(); }

// Runs SQL on a fresh connection (test set-up only).
inline absl::Status Sql(const std::string& sql) {
  auto c = pg::Connection::Open(Dsn());
  if (!c.ok()) return c.status();
  return (*c)->Exec(sql, "test sql");
}

}  // namespace clover::pgtest

#endif  // CLOVER_TESTS_POSTGRES_TEST_UTIL_H_
