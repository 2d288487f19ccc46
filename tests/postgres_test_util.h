// Shared by the PostgreSQL driver tests: one throwaway server per test binary
// (started on first use, stopped at exit), and a raw libpq connection for
// tests that need to reach behind a driver (inject failures, kill sessions).
#ifndef CLOVER_TESTS_POSTGRES_TEST_UTIL_H_
#define CLOVER_TESTS_POSTGRES_TEST_UTIL_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/postgres_barrier.h"
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

// While Start()ed, the binary's server waits at every commit for a
// synchronous standby that never comes (synchronous_standby_names names
// nobody): a primary whose standbys are all stopped. Stop() (also run by the
// destructor) restores it. Both wait until the server acts on the change
// (a probe barrier times out, or commits). Server-wide: tests of one binary
// run one after another, so no other test sees it.
class StandbyNeverConfirms {
 public:
  StandbyNeverConfirms() = default;
  StandbyNeverConfirms(const StandbyNeverConfirms&) = delete;
  StandbyNeverConfirms& operator=(const StandbyNeverConfirms&) = delete;
  ~StandbyNeverConfirms() { (void)Stop(); }

  [[nodiscard]] absl::Status Start() {
    if (absl::Status s =
            Sql(absl::StrCat("CREATE SCHEMA IF NOT EXISTS ", kProbe, ";",
                             pg::BarrierTableDdl(kProbe)));
        !s.ok()) {
      return s;
    }
    started_ = true;
    return Set("'clover_nobody'", /*stalled=*/true);
  }
  [[nodiscard]] absl::Status Stop() {
    if (!started_) return absl::OkStatus();
    started_ = false;
    return Set("DEFAULT", /*stalled=*/false);
  }

 private:
  static constexpr char kProbe[] = "clover_sync_probe";

  static absl::Status Set(const std::string& value, bool stalled) {
    if (absl::Status s = Sql(absl::StrCat(
            "ALTER SYSTEM SET synchronous_standby_names = ", value));
        !s.ok()) {
      return s;
    }
    if (absl::Status s = Sql("SELECT pg_reload_conf()"); !s.ok()) return s;
    // The checkpointer publishes the change to backends a moment later.
    for (int i = 0; i < 20; ++i) {
      auto c = pg::Connection::Open(Dsn());
      if (!c.ok()) return c.status();
      const absl::Status probe = pg::SyncBarrier(**c, kProbe, absl::Now());
      if (stalled ? absl::IsUnavailable(probe) : probe.ok()) {
        return absl::OkStatus();
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return absl::DeadlineExceededError(
        "synchronous_standby_names change not in effect");
  }

  bool started_ = false;
};

// Until destroyed, cancels (pg_cancel_backend, as an operator or a client's
// own cancel would) every session of the binary's database that waits for a
// synchronous standby while committing a write (not a durability barrier:
// those are left to their own bound). Such a COMMIT succeeds with only a
// WARNING: committed on the primary, maybe on no standby.
class SyncWaitCanceller {
 public:
  SyncWaitCanceller() : thread_([this] { Loop(); }) {}
  SyncWaitCanceller(const SyncWaitCanceller&) = delete;
  SyncWaitCanceller& operator=(const SyncWaitCanceller&) = delete;
  ~SyncWaitCanceller() {
    stop_ = true;
    thread_.join();
  }
  int cancelled() const { return cancelled_; }

 private:
  void Loop() {
    auto c = pg::Connection::Open(Dsn());
    if (!c.ok() ||
        !(*c)->Prepare("cancel",
                       "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                       "WHERE wait_event = 'SyncRep' AND datname = "
                       "current_database() AND pid <> pg_backend_pid() AND "
                       "query NOT LIKE '%barrier%'",
                       {})
             .ok()) {
      return;
    }
    while (!stop_) {
      auto r = (*c)->Query({"cancel", {}}, "cancel waiting commits");
      if (r.ok()) cancelled_ += PQntuples(r->get());
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<int> cancelled_{0};
  std::thread thread_;
};

}  // namespace clover::pgtest

#endif  // CLOVER_TESTS_POSTGRES_TEST_UTIL_H_
