#include "region/cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/json_parse.h"
#include "core/owned_dir.h"
#include "core/postgres_connection.h"
#include "core/status_macros.h"
#include "core/test_process.h"
#include "net/http_client.h"

namespace clover::region {

using test_process::RunAs;

struct RegionCluster::Member {
  std::string dc;
  std::string dir;  // <cluster dir>/<dc>
  int etcd_client_port = 0;
  int etcd_peer_port = 0;
  int rest_port = 0;
  int pg_port = 0;
  pid_t etcd_pid = -1;
  pid_t patroni_pid = -1;
  std::string data_dir() const { return dir + "/data"; }
};

namespace {

constexpr char kDefaultBinDir[] = "/usr/lib/postgresql/15/bin";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status WriteFile(const std::string& path, const std::string& text,
                       const RunAs& who) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  if (who.switch_user && chown(path.c_str(), who.uid, who.gid) != 0) {
    return absl::InternalError(
        absl::StrCat("chown ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status MakeDir(const std::string& path, const RunAs& who) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(
        absl::StrCat("mkdir ", path, ": ", std::strerror(errno)));
  }
  if (who.switch_user && chown(path.c_str(), who.uid, who.gid) != 0) {
    return absl::InternalError(
        absl::StrCat("chown ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// `n` distinct free loopback TCP ports: all are bound at once (so they
// differ), then released for the servers to take.
absl::StatusOr<std::vector<int>> FreePorts(size_t n) {
  std::vector<int> fds;
  std::vector<int> ports;
  absl::Status status;
  for (size_t i = 0; i < n && status.ok(); ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      status = absl::InternalError("socket failed");
      break;
    }
    fds.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      status = absl::InternalError("no free loopback port");
      break;
    }
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int fd : fds) close(fd);
  if (!status.ok()) return status;
  return ports;
}

// /proc/<pid>/stat fields after the command name: state, ppid, pgrp,
// session. False if the process is gone.
struct ProcStat {
  char state = '?';
  pid_t session = -1;
};
bool ReadProcStat(pid_t pid, ProcStat* out) {
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return false;
  std::vector<std::string> fields =
      absl::StrSplit(stat.substr(close_paren + 2), ' ');
  if (fields.size() < 4) return false;
  out->state = fields[0].empty() ? '?' : fields[0][0];
  int session = -1;
  if (!absl::SimpleAtoi(fields[3], &session)) return false;
  out->session = session;
  return true;
}

bool Alive(pid_t pid) {
  ProcStat st;
  return ReadProcStat(pid, &st) && st.state != 'Z' && st.state != 'X';
}

uid_t OwnerOf(pid_t pid) {
  struct stat st;
  if (stat(absl::StrCat("/proc/", pid).c_str(), &st) != 0) return -1;
  return st.st_uid;
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    int pid = 0;
    if (absl::SimpleAtoi(e.path().filename().string(), &pid) && pid > 1) {
      out.push_back(pid);
    }
  }
  return out;
}

// SIGKILLs every process of session `session` owned by `uid`.
void KillSession(pid_t session, uid_t uid) {
  if (session <= 1) return;
  for (pid_t pid : AllPids()) {
    ProcStat st;
    if (ReadProcStat(pid, &st) && st.session == session &&
        OwnerOf(pid) == uid) {
      kill(pid, SIGKILL);
    }
  }
}

bool WaitGone(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (Alive(pid)) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

void KillChild(pid_t* pid) {
  if (*pid <= 0) return;
  kill(*pid, SIGKILL);
  int status = 0;
  while (waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  *pid = -1;
}

std::string PatroniYaml(const RegionClusterOptions& o,
                        const RegionCluster::Member& m,
                        const std::string& etcd_hosts,
                        const std::string& bin_dir) {
  // Trust on loopback only: the harness has no secrets to keep, and nothing
  // outside 127.0.0.1 can connect.
  return absl::StrCat(
      "scope: clover-region\n"
      "name: ",
      m.dc,
      "\n"
      "log:\n  level: INFO\n"
      "restapi:\n  listen: 127.0.0.1:",
      m.rest_port, "\n  connect_address: 127.0.0.1:", m.rest_port,
      "\n"
      "etcd3:\n  hosts: ",
      etcd_hosts,
      "\n"
      "bootstrap:\n"
      "  dcs:\n"
      "    ttl: ",
      o.ttl_seconds, "\n    loop_wait: ", o.loop_wait_seconds,
      "\n    retry_timeout: ", o.retry_timeout_seconds,
      "\n"
      "    maximum_lag_on_failover: 1048576\n"
      "    synchronous_mode: true\n"
      "    synchronous_mode_strict: true\n"
      "    postgresql:\n"
      "      use_pg_rewind: true\n"
      "      use_slots: true\n"
      "      parameters:\n"
      "        wal_log_hints: 'on'\n"
      "        hot_standby: 'on'\n"
      "        max_wal_senders: 10\n"
      "        max_replication_slots: 10\n"
      // A gateway node holds up to ~47 connections (vault 32, log 4, state
      // 4, access index 2, peer logs, topology): three nodes and Patroni's
      // must fit under load.
      "        max_connections: 200\n"
      "        synchronous_commit: 'on'\n"
      // After a failover the surviving standby asks the new leader for its
      // replication slot before Patroni has created it, is refused, and
      // PostgreSQL's walreceiver waits wal_retrieve_retry_interval (5 s by
      // default) before asking again; until it is back, synchronous_mode_strict
      // holds every commit. Measured in the drill: promotion at kill + 20.0 s,
      // the standby back and the first write acknowledged at + 25.0 s.
      "        wal_retrieve_retry_interval: 250ms\n"
      "  initdb:\n"
      "  - encoding: UTF8\n"
      "  - locale: C\n"
      "  - no-sync\n"
      "postgresql:\n"
      "  listen: 127.0.0.1:",
      m.pg_port, "\n  connect_address: 127.0.0.1:", m.pg_port,
      "\n"
      "  data_dir: ",
      m.data_dir(), "\n  bin_dir: ", bin_dir, "\n  pgpass: ", m.dir,
      "/pgpass\n"
      "  authentication:\n"
      "    superuser: {username: postgres}\n"
      "    replication: {username: replicator}\n"
      "    rewind: {username: postgres}\n"
      "  parameters:\n"
      "    unix_socket_directories: '",
      m.dir, "'\n    shared_buffers: 16MB\n    fsync: '",
      o.fsync ? "on" : "off",
      "'\n"
      "  pg_hba:\n"
      "  - local all all trust\n"
      "  - host all all 127.0.0.1/32 trust\n"
      "  - host replication replicator 127.0.0.1/32 trust\n");
}

}  // namespace

absl::StatusOr<std::vector<RegionMemberStatus>> ParsePatroniCluster(
    const std::string& body) {
  rapidjson::Document doc;
  CLOVER_RETURN_IF_ERROR(ParseJson(body, &doc));
  if (!doc.IsObject() || !doc.HasMember("members") ||
      !doc["members"].IsArray()) {
    return absl::InternalError("patroni /cluster: no members array");
  }
  std::vector<RegionMemberStatus> out;
  for (const auto& m : doc["members"].GetArray()) {
    if (!m.IsObject()) continue;
    RegionMemberStatus s;
    auto str = [&](const char* key) {
      return m.HasMember(key) && m[key].IsString()
                 ? std::string(m[key].GetString())
                 : std::string();
    };
    auto num = [&](const char* key, int64_t dflt) {
      return m.HasMember(key) && m[key].IsInt64() ? m[key].GetInt64() : dflt;
    };
    s.name = str("name");
    s.role = str("role");
    s.state = str("state");
    s.port = static_cast<int>(num("port", 0));
    s.timeline = num("timeline", 0);
    s.lag_bytes = num("lag", -1);
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

std::string Describe(const std::vector<RegionMemberStatus>& members) {
  std::vector<std::string> parts;
  for (const auto& m : members) {
    parts.push_back(absl::StrCat(m.name, "=", m.role, "/", m.state));
  }
  return parts.empty() ? "no members" : absl::StrJoin(parts, ", ");
}

}  // namespace

pid_t FindPostmaster(const std::string& data_dir) {
  const std::string pidfile = ReadFile(data_dir + "/postmaster.pid");
  const std::string first = pidfile.substr(0, pidfile.find('\n'));
  int pid = 0;
  // Only a live process that names the data directory: a stale pid file
  // must not make us kill a stranger.
  if (absl::SimpleAtoi(first, &pid) && pid > 1 && Alive(pid) &&
      ReadFile(absl::StrCat("/proc/", pid, "/cmdline")).find(data_dir) !=
          std::string::npos) {
    return pid;
  }
  return -1;
}

absl::Status KillPostmaster(pid_t postmaster, uid_t uid) {
  if (postmaster <= 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a postmaster pid: ", postmaster));
  }
  ProcStat st;
  const bool known = ReadProcStat(postmaster, &st);
  kill(postmaster, SIGKILL);
  // Its backends, WAL senders and receivers share its session (Patroni
  // starts it in a session of its own).
  if (known) KillSession(st.session, uid);
  if (!WaitGone(postmaster, absl::Seconds(10))) {
    return absl::InternalError(
        absl::StrCat("postmaster ", postmaster, " survived SIGKILL"));
  }
  return absl::OkStatus();
}

RegionCluster::RegionCluster() = default;

absl::StatusOr<std::unique_ptr<RegionCluster>> RegionCluster::Start(
    const RegionClusterOptions& options) {
  // A port FreePorts found free can be taken by another test before the
  // server binds it; then the whole cluster starts again on fresh ports.
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<std::unique_ptr<RegionCluster>> c = StartOnce(options);
    if (c.ok() || attempt == 3 ||
        absl::AsciiStrToLower(c.status().message())
                .find("address already in use") == std::string::npos) {
      return c;
    }
  }
}

absl::StatusOr<std::unique_ptr<RegionCluster>> RegionCluster::StartOnce(
    const RegionClusterOptions& options) {
  const absl::Time started = absl::Now();
  std::string bin_dir = options.postgres_bin_dir;
  if (bin_dir.empty()) {
    const char* env = std::getenv("CLOVER_POSTGRES_BIN");
    bin_dir = env != nullptr && *env != '\0' ? env : kDefaultBinDir;
  }
  std::vector<std::string> needed = {options.patroni, options.etcd};
  for (const char* tool :
       {"initdb", "pg_ctl", "postgres", "pg_basebackup", "pg_rewind"}) {
    needed.push_back(absl::StrCat(bin_dir, "/", tool));
  }
  for (const std::string& path : needed) {
    if (access(path.c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          path,
          " is not installed (scripts/bootstrap.sh installs postgresql, "
          "patroni and etcd-server)"));
    }
  }
  if (options.dcs.size() < 2 || options.ttl_seconds < 1 ||
      options.loop_wait_seconds < 1 || options.retry_timeout_seconds < 1 ||
      options.loop_wait_seconds + 2 * options.retry_timeout_seconds >
          options.ttl_seconds) {
    return absl::InvalidArgumentError(
        "region cluster: at least two DCs, and loop_wait + 2 * "
        "retry_timeout <= ttl (Patroni's rule)");
  }
  CLOVER_ASSIGN_OR_RETURN(const RunAs who, test_process::ResolveServerUser());

  std::unique_ptr<RegionCluster> c(new RegionCluster());
  c->options_ = options;
  c->bin_dir_ = bin_dir;
  if (!options.dir.empty()) {
    // Unix socket paths (in each member's directory) must stay under 107
    // bytes.
    if (options.dir.size() > 60) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the region's directory ", options.dir,
          " is too long for PostgreSQL's unix sockets (at most 60 bytes)"));
    }
    CLOVER_RETURN_IF_ERROR(ResetOwnedDir(options.dir, "clover region"));
    c->dir_ = options.dir;
  } else {
    // Unix socket paths must stay under 107 bytes: prefer a short base.
    const char* tmp = std::getenv("TMPDIR");
    CLOVER_ASSIGN_OR_RETURN(
        c->dir_, CreateOwnedTempDir("region", tmp != nullptr && *tmp != '\0' &&
                                                      std::strlen(tmp) < 50
                                                  ? tmp
                                                  : "/tmp"));
  }
  if (who.switch_user && chown(c->dir_.c_str(), who.uid, who.gid) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot hand ", c->dir_,
                     " to the postgres user: ", std::strerror(errno)));
  }
  CLOVER_RETURN_IF_ERROR(c->StartWatchdog());

  CLOVER_ASSIGN_OR_RETURN(std::vector<int> ports,
                          FreePorts(4 * options.dcs.size()));
  std::vector<std::string> initial, etcd_hosts, hosts, pg_ports;
  for (size_t i = 0; i < options.dcs.size(); ++i) {
    auto m = std::make_unique<Member>();
    m->dc = options.dcs[i];
    m->dir = absl::StrCat(c->dir_, "/", m->dc);
    m->etcd_client_port = ports[4 * i];
    m->etcd_peer_port = ports[4 * i + 1];
    m->rest_port = ports[4 * i + 2];
    m->pg_port = ports[4 * i + 3];
    CLOVER_RETURN_IF_ERROR(MakeDir(m->dir, who));
    initial.push_back(
        absl::StrCat(m->dc, "=http://127.0.0.1:", m->etcd_peer_port));
    etcd_hosts.push_back(absl::StrCat("127.0.0.1:", m->etcd_client_port));
    hosts.push_back("127.0.0.1");
    pg_ports.push_back(absl::StrCat(m->pg_port));
    c->members_.push_back(std::move(m));
  }
  c->dsn_ = absl::StrCat("host=", absl::StrJoin(hosts, ","),
                         " port=", absl::StrJoin(pg_ports, ","),
                         " user=postgres dbname=", options.database,
                         " target_session_attrs=read-write");
  const std::string initial_cluster = absl::StrJoin(initial, ",");
  for (auto& m : c->members_) {
    CLOVER_RETURN_IF_ERROR(
        WriteFile(m->dir + "/etcd.initial-cluster", initial_cluster, who));
    CLOVER_RETURN_IF_ERROR(c->StartEtcd(*m));
  }
  const std::string etcd_list = absl::StrJoin(etcd_hosts, ",");
  for (auto& m : c->members_) {
    CLOVER_RETURN_IF_ERROR(
        WriteFile(m->dir + "/patroni.yml",
                  PatroniYaml(options, *m, etcd_list, bin_dir), who));
    CLOVER_RETURN_IF_ERROR(c->StartPatroni(*m));
  }
  const absl::Duration left = options.startup_timeout - (absl::Now() - started);
  CLOVER_RETURN_IF_ERROR(c->WaitHealthy(left));
  CLOVER_RETURN_IF_ERROR(c->CreateDatabase());
  c->startup_time_ = absl::Now() - started;
  return c;
}

absl::Status RegionCluster::StartWatchdog() {
  CLOVER_ASSIGN_OR_RETURN(const RunAs who, test_process::ResolveServerUser());
  // The directory comes through the pipe, not argv: the watchdog kills every
  // process whose command line names the directory, and must not be one.
  // Patroni first (it would restart a PostgreSQL stopped under it), then an
  // immediate shutdown of each PostgreSQL (its backends go with it), then
  // whatever still names the directory (etcd, a postmaster pg_ctl missed).
  // Deletes the directory only while it carries Clover's marker. A line
  // "detach" (Detach) makes it exit without doing anything.
  const std::string script =
      "read d || exit 0; read x; [ \"$x\" = detach ] && exit 0;"
      " kill_named() { for p in /proc/[0-9]*; do"
      "   c=$(tr '\\0' ' ' < \"$p/cmdline\" 2>/dev/null) || continue;"
      "   case \"$c\" in *$1*\"$d/\"*) kill -9 \"${p#/proc/}\" 2>/dev/null;;"
      "   esac; done; };"
      " kill_named patroni;"
      " for m in \"$d\"/*/data; do [ -f \"$m/postmaster.pid\" ] &&"
      "   \"$0\" -D \"$m\" -m immediate -w -t 10 stop >/dev/null 2>&1; done;"
      " kill_named '';"
      " sleep 0.2;"
      " [ \"$(head -n 1 \"$d/$1\" 2>/dev/null)\" = \"$2\" ] &&"
      " rm -rf --one-file-system \"$d\"";
  int fd = -1;
  CLOVER_ASSIGN_OR_RETURN(
      watchdog_pid_,
      test_process::SpawnWatchdog(
          script, {bin_dir_ + "/pg_ctl", kOwnedDirMarker, kOwnedDirMagic}, who,
          &fd));
  watchdog_fd_ = fd;
  const std::string line = dir_ + "\n";
  if (write(fd, line.data(), line.size()) !=
      static_cast<ssize_t>(line.size())) {
    return absl::InternalError("cannot brief the cluster's watchdog");
  }
  return absl::OkStatus();
}

absl::Status RegionCluster::StartEtcd(Member& m) {
  CLOVER_ASSIGN_OR_RETURN(const RunAs who, test_process::ResolveServerUser());
  const std::string client =
      absl::StrCat("http://127.0.0.1:", m.etcd_client_port);
  const std::string peer = absl::StrCat("http://127.0.0.1:", m.etcd_peer_port);
  const bool fresh = access((m.dir + "/etcd").c_str(), F_OK) != 0;
  CLOVER_ASSIGN_OR_RETURN(
      m.etcd_pid,
      test_process::Spawn(
          {options_.etcd, "--name", m.dc, "--data-dir", m.dir + "/etcd",
           "--listen-client-urls", client, "--advertise-client-urls", client,
           "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
           "--initial-cluster", ReadFile(m.dir + "/etcd.initial-cluster"),
           "--initial-cluster-state", fresh ? "new" : "existing",
           "--initial-cluster-token", "clover-region"},
          who, m.dir, m.dir + "/etcd.log"));
  return absl::OkStatus();
}

absl::Status RegionCluster::StartPatroni(Member& m) {
  CLOVER_ASSIGN_OR_RETURN(const RunAs who, test_process::ResolveServerUser());
  CLOVER_ASSIGN_OR_RETURN(
      m.patroni_pid,
      test_process::Spawn({options_.patroni, m.dir + "/patroni.yml"}, who,
                          m.dir, m.dir + "/patroni.log"));
  return absl::OkStatus();
}

absl::Status RegionCluster::CreateDatabase() {
  std::string dsn = dsn_;
  dsn.replace(dsn.find(" dbname="),
              std::string(" dbname=").size() + options_.database.size(),
              " dbname=postgres");
  {
    CLOVER_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> conn,
                            pg::Connection::Open(dsn));
    CLOVER_RETURN_IF_ERROR(conn->Exec(
        absl::StrCat("CREATE DATABASE ", pg::QuoteIdent(options_.database)),
        "create database"));
  }
  // Replicas flush the commit synchronously but replay it a moment later. A
  // replica without the database would stop libpq's walk through the DSN's
  // hosts (a FATAL at login ends it), so wait until every member has it.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  for (const auto& m : members_) {
    const std::string member = absl::StrCat(
        "host=127.0.0.1 port=", m->pg_port,
        " user=postgres dbname=", options_.database, " connect_timeout=2");
    for (;;) {
      absl::StatusOr<std::unique_ptr<pg::Connection>> c =
          pg::Connection::Open(member);
      if (c.ok()) break;
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "database not replicated to ", m->dc, ": ", c.status().message()));
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  return absl::OkStatus();
}

RegionCluster::Member* RegionCluster::Find(const std::string& dc) {
  for (auto& m : members_) {
    if (m->dc == dc) return m.get();
  }
  return nullptr;
}

std::string RegionCluster::MemberDsn(const std::string& dc) const {
  for (const auto& m : members_) {
    if (m->dc == dc) {
      return absl::StrCat("host=127.0.0.1 port=", m->pg_port,
                          " user=postgres dbname=", options_.database);
    }
  }
  return "";
}

absl::StatusOr<std::vector<RegionMemberStatus>> RegionCluster::Members() {
  net::HttpClient http;
  std::string last_error = "no member is running";
  for (const auto& m : members_) {
    if (m->patroni_pid <= 0) continue;
    const std::string url =
        absl::StrCat("http://127.0.0.1:", m->rest_port, "/cluster");
    net::HttpCall call;
    call.url = url;
    call.timeout = absl::Seconds(2);
    absl::StatusOr<net::HttpAnswer> a = http.Send(call);
    if (!a.ok()) {
      last_error = std::string(a.status().message());
      continue;
    }
    if (a->status != 200) {
      last_error = absl::StrCat("patroni /cluster answered ", a->status);
      continue;
    }
    return ParsePatroniCluster(a->body);
  }
  return absl::UnavailableError(
      absl::StrCat("no Patroni REST API answers: ", last_error));
}

std::string RegionCluster::DbHost(const std::string& dc) const {
  for (const auto& m : members_) {
    if (m->dc == dc) return absl::StrCat("127.0.0.1:", m->pg_port);
  }
  return "";
}

std::string RegionCluster::PatroniUrl(const std::string& dc) const {
  for (const auto& m : members_) {
    if (m->dc == dc) return absl::StrCat("http://127.0.0.1:", m->rest_port);
  }
  return "";
}

absl::StatusOr<std::string> RegionCluster::Leader() {
  CLOVER_ASSIGN_OR_RETURN(std::vector<RegionMemberStatus> members, Members());
  for (const RegionMemberStatus& m : members) {
    if (m.role == "leader" && m.state == "running") return m.name;
  }
  return absl::NotFoundError(
      absl::StrCat("no running leader: ", Describe(members)));
}

absl::StatusOr<std::string> RegionCluster::WaitForWritableLeader(
    absl::Duration timeout, const std::string& not_dc) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last = "nothing seen";
  std::string dsn = dsn_;
  dsn.append(" connect_timeout=2");
  for (;;) {
    absl::StatusOr<std::string> leader = Leader();
    if (leader.ok() && *leader != not_dc) {
      absl::StatusOr<std::unique_ptr<pg::Connection>> conn =
          pg::Connection::Open(dsn);
      absl::Status wrote =
          conn.ok() ? (*conn)->Exec(
                          "CREATE TABLE IF NOT EXISTS clover_region_probe"
                          " (at timestamptz);"
                          "INSERT INTO clover_region_probe VALUES (now())",
                          "write probe")
                    : conn.status();
      if (wrote.ok()) return *leader;
      last = std::string(wrote.message());
    } else {
      last = leader.ok() ? absl::StrCat("leader still ", *leader)
                         : std::string(leader.status().message());
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("no writable leader within ",
                       absl::FormatDuration(timeout), ": ", last));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

absl::Status RegionCluster::WaitHealthy(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last = "nothing seen";
  for (;;) {
    size_t live = 0;
    for (const auto& m : members_) {
      if (m->patroni_pid > 0) ++live;
      // A server that died on its own (say, a port taken between FreePorts
      // and its bind) will not come up: say why now.
      int status = 0;
      if (m->patroni_pid > 0 &&
          waitpid(m->patroni_pid, &status, WNOHANG) == m->patroni_pid) {
        m->patroni_pid = -1;
        return absl::InternalError(absl::StrCat(
            "patroni of ", m->dc,
            " exited: ", test_process::Tail(m->dir + "/patroni.log")));
      }
      if (m->etcd_pid > 0 &&
          waitpid(m->etcd_pid, &status, WNOHANG) == m->etcd_pid) {
        m->etcd_pid = -1;
        return absl::InternalError(absl::StrCat(
            "etcd of ", m->dc,
            " exited: ", test_process::Tail(m->dir + "/etcd.log")));
      }
    }
    absl::StatusOr<std::vector<RegionMemberStatus>> members = Members();
    if (members.ok()) {
      size_t running = 0, leaders = 0, sync = 0;
      for (const RegionMemberStatus& s : *members) {
        if (s.state != "running") continue;
        ++running;
        if (s.role == "leader") ++leaders;
        if (s.role == "sync_standby") ++sync;
      }
      if (running == live && leaders == 1 && (live < 2 || sync >= 1)) {
        return absl::OkStatus();
      }
      last = Describe(*members);
    } else {
      last = std::string(members.status().message());
    }
    if (absl::Now() > deadline) {
      std::string logs;
      for (const auto& m : members_) {
        absl::StrAppend(&logs, "; ", m->dc, " patroni log: ",
                        test_process::Tail(m->dir + "/patroni.log", 300));
      }
      return absl::DeadlineExceededError(
          absl::StrCat("region cluster not healthy within ",
                       absl::FormatDuration(timeout), ": ", last, logs));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

absl::Status RegionCluster::Kill(const std::string& dc, bool with_etcd) {
  Member* m = Find(dc);
  if (m == nullptr) return absl::NotFoundError(absl::StrCat("no DC ", dc));
  if (m->patroni_pid <= 0) {
    return absl::FailedPreconditionError(absl::StrCat(dc, " is not running"));
  }
  CLOVER_ASSIGN_OR_RETURN(const RunAs who, test_process::ResolveServerUser());
  const uid_t uid = who.switch_user ? who.uid : geteuid();
  // The postmaster first found, so that it cannot be missed; Patroni killed
  // before it, so that Patroni cannot start it again in between.
  const pid_t postmaster = FindPostmaster(m->data_dir());
  const pid_t patroni = m->patroni_pid;
  KillChild(&m->patroni_pid);
  // Whatever Patroni had running in its session (pg_basebackup, pg_rewind).
  KillSession(patroni, uid);
  if (postmaster > 0) {
    CLOVER_RETURN_IF_ERROR(KillPostmaster(postmaster, uid));
  }
  if (with_etcd) KillChild(&m->etcd_pid);
  return absl::OkStatus();
}

absl::Status RegionCluster::Restart(const std::string& dc) {
  Member* m = Find(dc);
  if (m == nullptr) return absl::NotFoundError(absl::StrCat("no DC ", dc));
  if (m->patroni_pid > 0) {
    return absl::FailedPreconditionError(absl::StrCat(dc, " is running"));
  }
  if (m->etcd_pid <= 0) CLOVER_RETURN_IF_ERROR(StartEtcd(*m));
  return StartPatroni(*m);
}

std::vector<RegionMemberProcesses> RegionCluster::Processes() const {
  std::vector<RegionMemberProcesses> out;
  for (const auto& m : members_) {
    out.push_back({m->dc, m->dir, m->etcd_pid, m->patroni_pid,
                   m->etcd_client_port, m->etcd_peer_port, m->rest_port,
                   m->pg_port});
  }
  return out;
}

void RegionCluster::Detach() {
  if (watchdog_fd_ >= 0) {
    const std::string line = "detach\n";
    if (write(watchdog_fd_, line.data(), line.size()) ==
        static_cast<ssize_t>(line.size())) {
      close(watchdog_fd_);
      int status = 0;
      while (waitpid(watchdog_pid_, &status, 0) < 0 && errno == EINTR) {
      }
      watchdog_fd_ = -1;
    }
  }
  detached_ = true;
}

RegionCluster::~RegionCluster() {
  if (detached_) return;
  // Our own children first (they are ours to reap), then the watchdog does
  // the rest: PostgreSQL, and the directory.
  for (auto& m : members_) KillChild(&m->patroni_pid);
  for (auto& m : members_) KillChild(&m->etcd_pid);
  if (watchdog_fd_ >= 0) {
    close(watchdog_fd_);
    int status = 0;
    while (waitpid(watchdog_pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (!dir_.empty()) {
    if (absl::Status s = RemoveOwnedDir(dir_); !s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    }
  }
}

}  // namespace clover::region
