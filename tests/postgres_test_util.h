// Shared by the PostgreSQL driver tests: one throwaway server per test binary
// (started on first use, stopped at exit), and a raw libpq connection for
// tests that need to reach behind a driver (inject failures, kill sessions).
#ifndef CLOVER_TESTS_POSTGRES_TEST_UTIL_H_
#define CLOVER_TESTS_POSTGRES_TEST_UTIL_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
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

// A TCP proxy on 127.0.0.1 in front of the test server's unix socket. Armed,
// it passes the next COMMIT on, waits until the server has answered the whole
// pipeline (ReadyForQuery), and closes the client's connection instead of
// passing the answer back: a commit that happened but whose acknowledgement
// was lost, as when a leader dies between its commit and its reply.
// (Shared by the vault and kv store tests.)
class LosingProxy {
 public:
  explicit LosingProxy(std::string socket_path)
      : socket_path_(std::move(socket_path)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) ==
            0 &&
        listen(listen_fd_, 16) == 0 &&
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) ==
            0) {
      port_ = ntohs(addr.sin_port);
    }
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~LosingProxy() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    acceptor_.join();
    for (std::thread& t : pumps_) t.join();
  }
  std::string Dsn() const {
    return absl::StrCat("host=127.0.0.1 port=", port_,
                        " user=postgres dbname=clover_test");
  }
  void Arm() { armed_ = true; }
  int lost_replies() const { return lost_; }

 private:
  void Accept() {
    while (!stop_) {
      const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      const int server = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un sun{};
      sun.sun_family = AF_UNIX;
      std::snprintf(sun.sun_path, sizeof sun.sun_path, "%s",
                    socket_path_.c_str());
      if (connect(server, reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) {
        close(client);
        close(server);
        continue;
      }
      pumps_.emplace_back([this, client, server] { Pump(client, server); });
    }
  }
  void Pump(int client, int server) {
    bool swallowing = false;
    std::string answer;
    char buf[65536];
    while (!stop_) {
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (poll(fds, 2, 100) <= 0) continue;
      if (fds[0].revents != 0) {
        const ssize_t n = read(client, buf, sizeof buf);
        if (n <= 0) break;
        const absl::string_view bytes(buf, static_cast<size_t>(n));
        if (armed_ && bytes.find("COMMIT") != absl::string_view::npos) {
          armed_ = false;
          swallowing = true;
        }
        if (write(server, buf, n) != n) break;
      }
      if (fds[1].revents != 0) {
        const ssize_t n = read(server, buf, sizeof buf);
        if (n <= 0) break;
        if (swallowing) {
          answer.append(buf, static_cast<size_t>(n));
          // ReadyForQuery after the Sync: the transaction has ended.
          if (answer.find(std::string("Z\0\0\0\x05", 5)) != std::string::npos) {
            ++lost_;
            break;
          }
          continue;
        }
        if (write(client, buf, n) != n) break;
      }
    }
    close(client);
    close(server);
  }

  const std::string socket_path_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> armed_{false};
  std::atomic<int> lost_{0};
  std::thread acceptor_;
  std::vector<std::thread> pumps_;
};

}  // namespace clover::pgtest

#endif  // CLOVER_TESTS_POSTGRES_TEST_UTIL_H_
