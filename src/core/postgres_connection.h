// A thin libpq layer shared by the PostgreSQL storage drivers of the log and
// the vault: connections with prepared statements, binary parameters and
// results, whole batches sent as ONE pipelined transaction, and a small
// connection pool.
//
// Header-only on purpose: clover_core does not link libpq; only the libraries
// that include this header (clover_log, clover_vault) link
// PostgreSQL::PostgreSQL.
//
// Errors never carry the DSN (it may hold a password) nor parameter values
// (they may be sealed records or wrapped keys): only the server's primary
// message and SQLSTATE.
#ifndef CLOVER_CORE_POSTGRES_CONNECTION_H_
#define CLOVER_CORE_POSTGRES_CONNECTION_H_

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace clover::pg {

// Well-known type OIDs (pg_type.h is server-side only).
inline constexpr Oid kInt2Oid = 21;
inline constexpr Oid kInt8Oid = 20;
inline constexpr Oid kTextOid = 25;
inline constexpr Oid kByteaOid = 17;

// Binary encodings of integer parameters (network byte order).
inline std::string Int8Param(int64_t v) {
  std::string out(8, '\0');
  const uint64_t u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(u >> (56 - 8 * i));
  return out;
}
inline std::string Int2Param(int16_t v) {
  const uint16_t u = static_cast<uint16_t>(v);
  return std::string{static_cast<char>(u >> 8), static_cast<char>(u & 0xff)};
}

// Double-quotes an identifier that the caller has already restricted to a
// safe alphabet (no quotes).
inline std::string QuoteIdent(absl::string_view ident) {
  return absl::StrCat("\"", ident, "\"");
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// The bytes of a binary-format result cell.
inline absl::string_view Cell(const PGresult* r, int row, int col) {
  return absl::string_view(PQgetvalue(r, row, col),
                           static_cast<size_t>(PQgetlength(r, row, col)));
}

// One execution of a prepared statement; every parameter in binary format.
struct Statement {
  std::string name;
  std::vector<absl::string_view> params;
};

// Maps a failed result (or a broken connection) to an absl::Status: SQLSTATE
// class 08 (connection), 53 (resources), 57 (operator intervention, e.g. a
// server shutting down) and 25006 (read-only transaction: the server is, or
// has just become, a standby) -> Unavailable, so that callers go and find the
// current leader; 40 (serialization, deadlock) -> Aborted; anything else ->
// Internal.
inline absl::Status ErrorStatus(PGconn* conn, const PGresult* res,
                                absl::string_view what) {
  const char* state =
      res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = res != nullptr
                            ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                            : nullptr;
  std::string message;
  if (primary != nullptr) {
    message = primary;
  } else {
    message = PQerrorMessage(conn);
    while (!message.empty() &&
           (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
  }
  const std::string text =
      absl::StrCat("postgres ", what, ": ", message,
                   state != nullptr ? absl::StrCat(" (SQLSTATE ", state, ")")
                                    : std::string());
  if (PQstatus(conn) != CONNECTION_OK) return absl::UnavailableError(text);
  const absl::string_view s = state != nullptr ? state : "";
  if (s.rfind("08", 0) == 0 || s.rfind("53", 0) == 0 || s.rfind("57", 0) == 0)
    return absl::UnavailableError(text);
  if (s == "25006") return absl::UnavailableError(text);
  if (s.rfind("40", 0) == 0) return absl::AbortedError(text);
  return absl::InternalError(text);
}

// One libpq connection. Not thread-safe: use one per thread, or lease them
// from a Pool.
class Connection {
 public:
  // Connects with `dsn` (a libpq conninfo string or URI). The DSN's own
  // settings win over the defaults set here (application_name "clover", a 10 s
  // connect timeout). Errors: Unavailable if the server cannot be reached or
  // refuses the login.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& dsn) {
    const char* keys[] = {"connect_timeout", "fallback_application_name",
                          "dbname", nullptr};
    const char* values[] = {"10", "clover", dsn.c_str(), nullptr};
    std::unique_ptr<Connection> c(
        new Connection(PQconnectdbParams(keys, values, /*expand_dbname=*/1)));
    if (c->conn_ == nullptr) {
      return absl::ResourceExhaustedError("postgres connect: out of memory");
    }
    if (PQstatus(c->conn_) != CONNECTION_OK) {
      return ErrorStatus(c->conn_, nullptr, "connect");
    }
    // NOTICEs ("relation already exists, skipping") would go to stderr.
    // WARNINGs are counted: a COMMIT whose wait for the synchronous standby
    // was cancelled (statement_timeout, pg_cancel_backend, a client cancel)
    // succeeds with only a WARNING ("the transaction has already committed
    // locally, but might not have been replicated"), matched by severity
    // because the message text is translated.
    PQsetNoticeReceiver(c->conn_, &Connection::OnNotice, c.get());
    return c;
  }

  ~Connection() { PQfinish(conn_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // False once the connection is lost, was left mid-transaction or
  // mid-pipeline by an error, or found itself on a server that no longer
  // takes writes; such a connection is discarded.
  [[nodiscard]] bool healthy() const {
    return !stale_ && PQstatus(conn_) == CONNECTION_OK &&
           PQpipelineStatus(conn_) == PQ_PIPELINE_OFF &&
           PQtransactionStatus(conn_) == PQTRANS_IDLE;
  }

  // Runs `sql` (one or more statements, no parameters).
  [[nodiscard]] absl::Status Exec(const std::string& sql,
                                  absl::string_view what) {
    Result r(PQexec(conn_, sql.c_str()));
    const ExecStatusType st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      return Failed(r.get(), what);
    }
    return absl::OkStatus();
  }

  // Runs `sql` (one or more statements, no parameters) like Exec, but waits
  // for the server at most `timeout`: then it asks the server to cancel what
  // is running (as pg_cancel_backend would) and waits up to 5 s more for its
  // answer. A cancelled statement fails (SQLSTATE 57014: Unavailable); a
  // COMMIT whose wait for a synchronous standby is cancelled succeeds with a
  // WARNING (see warnings()). statement_timeout cannot bound that wait: the
  // server stops its timer before it commits. Errors: as Exec; Unavailable
  // (and the connection discarded) if the server does not answer the cancel.
  [[nodiscard]] absl::Status ExecWithin(const std::string& sql,
                                        absl::string_view what,
                                        absl::Duration timeout) {
    if (PQsendQuery(conn_, sql.c_str()) != 1) return Failed(nullptr, what);
    absl::Time deadline = absl::Now() + timeout;
    bool cancelled = false;
    absl::Status status;
    for (;;) {
      // Wait until a whole result (or the end of the results) is there.
      while (PQisBusy(conn_)) {
        const absl::Duration left = deadline - absl::Now();
        if (left <= absl::ZeroDuration()) {
          if (cancelled) {
            stale_ = true;
            return absl::UnavailableError(
                absl::StrCat("postgres ", what, ": no answer from the server"));
          }
          if (PGcancel* cancel = PQgetCancel(conn_); cancel != nullptr) {
            char error[256];
            (void)PQcancel(cancel, error, sizeof error);
            PQfreeCancel(cancel);
          }
          cancelled = true;
          deadline = absl::Now() + absl::Seconds(5);
          continue;
        }
        pollfd p{PQsocket(conn_), POLLIN, 0};
        const int64_t ms =
            absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)));
        if (p.fd < 0) return Failed(nullptr, what);
        if (poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 60000))) < 0 &&
            errno != EINTR) {
          return Failed(nullptr, what);
        }
        if (PQconsumeInput(conn_) != 1) return Failed(nullptr, what);
      }
      Result r(PQgetResult(conn_));
      if (r == nullptr) return status;
      const ExecStatusType st = PQresultStatus(r.get());
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && status.ok()) {
        status = Failed(r.get(), what);
      }
    }
  }

  // For an idle connection: whether the server has sent something unasked,
  // which on an idle session is its goodbye (an error before closing it, or
  // the close itself: a terminated backend, a server shutting down or gone).
  // Checked before reuse, so that such a connection is dropped before a
  // transaction is sent on it and its failure taken for a commit in doubt.
  [[nodiscard]] bool ServerSpokeWhileIdle() const {
    pollfd p{PQsocket(conn_), POLLIN, 0};
    return p.fd < 0 || poll(&p, 1, 0) != 0;
  }

  // True when the last Transaction failed with its COMMIT in flight (it may
  // have committed), or committed with a server WARNING (it has committed, at
  // least on this server, but may not be on a synchronous standby).
  [[nodiscard]] bool commit_in_doubt() const { return commit_in_doubt_; }

  // WARNING notices received on this connection so far.
  [[nodiscard]] uint64_t warnings() const { return warnings_; }

  // Prepares `sql` as statement `name` with the given parameter types.
  [[nodiscard]] absl::Status Prepare(const std::string& name,
                                     const std::string& sql,
                                     const std::vector<Oid>& types) {
    Result r(PQprepare(conn_, name.c_str(), sql.c_str(),
                       static_cast<int>(types.size()), types.data()));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      return Failed(r.get(), absl::StrCat("prepare ", name));
    }
    return absl::OkStatus();
  }

  // Executes a prepared statement with binary parameters and binary results.
  [[nodiscard]] absl::StatusOr<Result> Query(const Statement& s,
                                             absl::string_view what) {
    Args args(s);
    Result r(PQexecPrepared(conn_, s.name.c_str(), args.n(), args.values(),
                            args.lengths(), args.formats(),
                            /*resultFormat=*/1));
    const ExecStatusType st = PQresultStatus(r.get());
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      return Failed(r.get(), what);
    }
    return r;
  }

  // Runs `statements` as ONE transaction (BEGIN ... COMMIT), pipelined so the
  // whole batch costs one round trip. All or nothing: on any error the
  // transaction is rolled back. If the connection breaks while COMMIT is in
  // flight, the outcome is unknown to this call; the error then says so, is
  // Unavailable, and commit_in_doubt() is true until the next Transaction
  // (callers check what was stored, on a fresh connection). A transaction
  // that committed but drew a WARNING from the server is treated the same
  // way (Unavailable, commit_in_doubt(); the connection stays usable): the
  // server says so when the wait for the synchronous standby was cancelled,
  // and an acknowledged write must be on a standby too (postgres_barrier.h).
  [[nodiscard]] absl::Status Transaction(
      const std::vector<Statement>& statements, absl::string_view what) {
    commit_in_doubt_ = false;
    const uint64_t warnings_before = warnings_;
    if (PQenterPipelineMode(conn_) != 1) {
      return ErrorStatus(conn_, nullptr, what);
    }
    absl::Status status = RunPipeline(statements, what);
    PQexitPipelineMode(conn_);
    if (status.ok() && warnings_ != warnings_before) {
      commit_in_doubt_ = true;
      return absl::UnavailableError(absl::StrCat(
          "postgres ", what,
          ": committed with a server warning (the wait for the synchronous "
          "standby may have been cancelled); not known to be replicated"));
    }
    if (!status.ok() && PQstatus(conn_) == CONNECTION_OK &&
        PQtransactionStatus(conn_) != PQTRANS_IDLE) {
      Result r(PQexec(conn_, "ROLLBACK"));
    }
    return status;
  }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}

  static void OnNotice(void* self, const PGresult* r) {
    const char* severity = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (severity != nullptr && std::strcmp(severity, "WARNING") == 0) {
      ++static_cast<Connection*>(self)->warnings_;
    }
  }

  // ErrorStatus, marking the connection not to be reused after an
  // Unavailable: its server is gone, or is a standby now (a 25006 refusal
  // leaves the connection open, but useless for writes).
  absl::Status Failed(const PGresult* res, absl::string_view what) {
    absl::Status s = ErrorStatus(conn_, res, what);
    if (absl::IsUnavailable(s)) stale_ = true;
    return s;
  }

  // libpq's parallel arrays for one statement.
  class Args {
   public:
    explicit Args(const Statement& s) {
      for (absl::string_view p : s.params) {
        values_.push_back(p.data());
        lengths_.push_back(static_cast<int>(p.size()));
        formats_.push_back(1);
      }
    }
    int n() const { return static_cast<int>(values_.size()); }
    const char* const* values() const { return values_.data(); }
    const int* lengths() const { return lengths_.data(); }
    const int* formats() const { return formats_.data(); }

   private:
    std::vector<const char*> values_;
    std::vector<int> lengths_;
    std::vector<int> formats_;
  };

  // Sends BEGIN, the statements and COMMIT, then one Sync. Results are read
  // every kDrainEvery statements so that neither side's socket buffer can fill
  // up while the other waits (the classic pipeline deadlock).
  absl::Status RunPipeline(const std::vector<Statement>& statements,
                           absl::string_view what) {
    constexpr size_t kDrainEvery = 256;
    absl::Status first_error;
    size_t sent = 0, read = 0;
    bool commit_sent = false;
    // Results come in order: BEGIN, the statements, COMMIT. An error on one
    // before COMMIT (e.g. the FATAL of a session terminated before or during
    // the batch) means the server never ran the COMMIT: not in doubt.
    const size_t commit_at = statements.size() + 1;
    bool failed_before_commit = false;
    auto send_text = [&](const char* sql) {
      return PQsendQueryParams(conn_, sql, 0, nullptr, nullptr, nullptr,
                               nullptr, 1) == 1;
    };
    auto drain = [&](size_t upto) -> absl::Status {
      for (; read < upto; ++read) {
        Result r(PQgetResult(conn_));
        if (r == nullptr) {
          return ErrorStatus(conn_, nullptr, what);
        }
        const ExecStatusType st = PQresultStatus(r.get());
        // Only an error the server sent (it has a SQLSTATE): libpq reports a
        // lost connection as an error of the first pending query.
        if (st == PGRES_FATAL_ERROR && read < commit_at &&
            PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) != nullptr) {
          failed_before_commit = true;
        }
        if (st == PGRES_FATAL_ERROR && first_error.ok()) {
          first_error = Failed(r.get(), what);
        }
        // Each query's results end with a null result.
        while (Result extra{PQgetResult(conn_)}) {
        }
      }
      return absl::OkStatus();
    };
    auto lost = [&]() -> absl::Status {
      absl::Status s = ErrorStatus(conn_, nullptr, what);
      if (commit_sent && !failed_before_commit) {
        commit_in_doubt_ = true;
        return absl::UnavailableError(
            absl::StrCat(s.message(), " (commit outcome unknown)"));
      }
      return s;
    };
    if (!send_text("BEGIN")) return lost();
    ++sent;
    for (const Statement& s : statements) {
      Args args(s);
      if (PQsendQueryPrepared(conn_, s.name.c_str(), args.n(), args.values(),
                              args.lengths(), args.formats(), 1) != 1) {
        return lost();
      }
      ++sent;
      if (sent - read >= kDrainEvery) {
        if (PQsendFlushRequest(conn_) != 1 || PQflush(conn_) != 0) {
          return lost();
        }
        if (absl::Status s = drain(sent); !s.ok()) return lost();
      }
    }
    commit_sent = true;
    if (!send_text("COMMIT")) return lost();
    ++sent;
    if (PQpipelineSync(conn_) != 1) return lost();
    if (absl::Status s = drain(sent); !s.ok()) return lost();
    Result sync(PQgetResult(conn_));
    if (sync == nullptr || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) {
      return lost();
    }
    return first_error;
  }

  PGconn* conn_;
  bool stale_ = false;
  bool commit_in_doubt_ = false;
  uint64_t warnings_ = 0;
};

// A bounded pool of connections to one DSN, each initialised (statements
// prepared, session settings applied) by `init` when opened. Thread-safe.
// Broken connections are dropped when returned, and a fresh one is opened on
// the next Acquire: this is how the drivers reconnect after a server restart.
class Pool {
 public:
  using Init = std::function<absl::Status(Connection&)>;

  Pool(std::string dsn, size_t max_connections, Init init)
      : dsn_(std::move(dsn)),
        max_(max_connections == 0 ? 1 : max_connections),
        init_(std::move(init)) {}

  // A leased connection, given back to the pool on destruction.
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_ != nullptr) pool_->Release(std::move(conn_));
    }
    Connection* operator->() const { return conn_.get(); }
    Connection& operator*() const { return *conn_; }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  // Runs `fn(Connection&)` (returning absl::Status or absl::StatusOr<T>) on a
  // leased connection. If it fails with Unavailable (a pooled connection the
  // server closed since its last use, a server that died, or one that is a
  // standby now), every idle connection is dropped (they lead to the same
  // server) and `fn` runs once more at once on a fresh connection; then it
  // keeps retrying with backoff (20 ms doubling to 500 ms) while `retry_for`
  // has not passed since the first attempt, to ride out a server restart or
  // a failover: with a multi-host DSN and target_session_attrs=read-write,
  // each fresh connection goes to whichever member is the leader by then.
  // After `retry_for` the last Unavailable is returned. `fn` must be
  // idempotent (reads, upserts, deletes): an attempt whose COMMIT was in
  // flight when the connection broke may have committed.
  template <typename Fn>
  auto Run(Fn&& fn, absl::Duration retry_for = absl::ZeroDuration())
      -> std::invoke_result_t<Fn&, Connection&> {
    using R = std::invoke_result_t<Fn&, Connection&>;
    const absl::Time deadline = absl::Now() + retry_for;
    absl::Duration backoff = absl::Milliseconds(20);
    for (int attempt = 0;; ++attempt) {
      R result = [&]() -> R {
        absl::StatusOr<Lease> lease = Acquire();
        return lease.ok() ? fn(**lease) : R(lease.status());
      }();
      if (!absl::IsUnavailable(StatusOf(result))) return result;
      DropIdle();
      if (attempt == 0) continue;
      if (absl::Now() + backoff > deadline) return result;
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Milliseconds(500));
    }
  }

  // Closes every idle connection (e.g. after one of them found its server
  // gone). Leased ones are judged when they come back.
  void DropIdle() {
    std::vector<std::unique_ptr<Connection>> dropped;
    absl::MutexLock lock(&mu_);
    open_ -= idle_.size();
    dropped.swap(idle_);
  }

  // Waits while all connections are leased. Errors: those of Connection::Open
  // and of `init`.
  [[nodiscard]] absl::StatusOr<Lease> Acquire() {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &Pool::CanLease));
      while (!idle_.empty()) {
        std::unique_ptr<Connection> c = std::move(idle_.back());
        idle_.pop_back();
        if (!c->ServerSpokeWhileIdle()) return Lease(this, std::move(c));
        --open_;  // closed by its destructor; a fresh one below if needed
      }
      ++open_;  // reserve the slot before connecting outside the lock
    }
    absl::StatusOr<std::unique_ptr<Connection>> c = Connection::Open(dsn_);
    absl::Status s = c.ok() ? init_(**c) : c.status();
    if (!s.ok()) {
      absl::MutexLock lock(&mu_);
      --open_;
      return s;
    }
    return Lease(this, *std::move(c));
  }

 private:
  static const absl::Status& StatusOf(const absl::Status& s) { return s; }
  template <typename T>
  static absl::Status StatusOf(const absl::StatusOr<T>& s) {
    return s.status();
  }
  bool CanLease() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !idle_.empty() || open_ < max_;
  }
  void Release(std::unique_ptr<Connection> c) {
    const bool keep = c->healthy();
    absl::MutexLock lock(&mu_);
    if (keep) {
      idle_.push_back(std::move(c));
    } else {
      --open_;
    }
  }

  const std::string dsn_;
  const size_t max_;
  const Init init_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  size_t open_ ABSL_GUARDED_BY(mu_) = 0;  // leased + idle
};

}  // namespace clover::pg

#endif  // CLOVER_CORE_POSTGRES_CONNECTION_H_
