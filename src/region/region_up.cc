#include "region/region_up.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "config/deployment.h"
#include "core/canonical_json.h"
#include "core/json_parse.h"
#include "core/owned_dir.h"
#include "core/status_macros.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "net/http_client.h"
#include "rapidjson/document.h"
#include "region/cluster.h"

namespace clover::region {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Tail(const std::string& path, size_t max_bytes = 400) {
  std::string s = ReadFile(path);
  if (s.size() > max_bytes) s = "..." + s.substr(s.size() - max_bytes);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// /proc/<pid>/stat: state (field 3) and start time (field 22). False if the
// process is gone.
bool ProcState(pid_t pid, char* state, uint64_t* start_time) {
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t close_paren = stat.rfind(')');
  if (close_paren == std::string::npos || close_paren + 2 > stat.size()) {
    return false;
  }
  std::vector<std::string> fields =
      absl::StrSplit(stat.substr(close_paren + 2), ' ');
  // fields[0] is field 3 (state), so field 22 is fields[19].
  if (fields.size() < 20 || fields[0].empty()) return false;
  *state = fields[0][0];
  return absl::SimpleAtoi(fields[19], start_time);
}

bool Alive(pid_t pid) {
  // Reap it if it is our child (up and down in one process: demo-ha).
  int status = 0;
  waitpid(pid, &status, WNOHANG);
  char state = '?';
  uint64_t start = 0;
  return ProcState(pid, &state, &start) && state != 'Z' && state != 'X';
}

absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// The marker as core/owned_dir.h defines it: a regular file (not a link)
// owned by us, starting with the magic line.
bool HasOwnedMarker(const std::string& dir) {
  const std::string marker = dir + "/" + kOwnedDirMarker;
  struct stat st;
  if (lstat(marker.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_uid != geteuid()) {
    return false;
  }
  const std::string text = ReadFile(marker);
  return text.substr(0, text.find('\n')) == kOwnedDirMagic;
}

RegionProcess Recorded(const std::string& kind, const std::string& dc,
                       pid_t pid, const std::string& needle) {
  RegionProcess p{kind, dc, pid, 0, needle};
  char state = '?';
  ProcState(pid, &state, &p.start_time);
  return p;
}

// `clover serve --config CONFIG --threads 2` in a session of its own, output
// appended to `log`.
absl::StatusOr<pid_t> SpawnGateway(const std::string& binary,
                                   const std::string& config,
                                   const std::string& log) {
  const int fd =
      open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("open ", log, ": ", std::strerror(errno)));
  }
  const pid_t pid = fork();
  if (pid < 0) {
    close(fd);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    for (int i = 3; i < 1024; ++i) close(i);
    setsid();
    execl(binary.c_str(), binary.c_str(), "serve", "--config", config.c_str(),
          "--threads", "2", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fd);
  return pid;
}

// Sends `sig` to every process of `kind` that still is ours; returns them.
std::vector<pid_t> Signal(const std::vector<RegionProcess>& ps,
                          const std::string& kind, int sig) {
  std::vector<pid_t> out;
  for (const RegionProcess& p : ps) {
    if (p.kind == kind && StillOurs(p) && kill(p.pid, sig) == 0) {
      out.push_back(p.pid);
    }
  }
  return out;
}

// Waits until none of `pids` is alive; false at the deadline.
bool WaitAllGone(const std::vector<pid_t>& pids, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    bool any = false;
    for (pid_t pid : pids) any = any || Alive(pid);
    if (!any) return true;
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

uid_t OwnerOf(pid_t pid) {
  struct stat st;
  if (stat(absl::StrCat("/proc/", pid).c_str(), &st) != 0) return -1;
  return st.st_uid;
}

void Say(std::ostream* out, const std::string& line) {
  if (out != nullptr) *out << line << "\n" << std::flush;
}

// SIGKILLs the gateways in `started` (our children) and reaps them.
void KillGateways(const std::vector<RegionProcess>& started) {
  for (const RegionProcess& p : started) {
    // A pid of -1 (a gateway already reaped) must never reach kill(): it
    // would signal every process we may signal.
    if (p.kind != "gateway" || p.pid <= 1) continue;
    kill(p.pid, SIGKILL);
    int status = 0;
    while (waitpid(p.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

}  // namespace

bool StillOurs(const RegionProcess& p) {
  if (p.pid <= 1 || p.start_time == 0 || p.needle.empty()) return false;
  char state = '?';
  uint64_t start = 0;
  if (!ProcState(p.pid, &state, &start) || state == 'Z' || state == 'X' ||
      start != p.start_time) {
    return false;
  }
  return ReadFile(absl::StrCat("/proc/", p.pid, "/cmdline")).find(p.needle) !=
         std::string::npos;
}

std::string RegionState::ToJson() const {
  std::string out = "{\"data_dir\":";
  AppendJsonString(data_dir, &out);
  out.append(",\"dsn\":");
  AppendJsonString(dsn, &out);
  out.append(",\"members\":[");
  for (size_t i = 0; i < members.size(); ++i) {
    const RegionMemberState& m = members[i];
    if (i > 0) out.push_back(',');
    out.append("{\"dc\":");
    AppendJsonString(m.dc, &out);
    out.append(",\"dir\":");
    AppendJsonString(m.dir, &out);
    absl::StrAppend(&out, ",\"pg_port\":", m.pg_port,
                    ",\"rest_port\":", m.rest_port,
                    ",\"etcd_client_port\":", m.etcd_client_port, "}");
  }
  out.append("],\"nodes\":[");
  for (size_t i = 0; i < nodes.size(); ++i) {
    const RegionNodeState& n = nodes[i];
    if (i > 0) out.push_back(',');
    out.append("{\"dc\":");
    AppendJsonString(n.dc, &out);
    out.append(",\"region\":");
    AppendJsonString(n.region, &out);
    out.append(",\"endpoint\":");
    AppendJsonString(n.endpoint, &out);
    out.append(",\"storage\":");
    AppendJsonString(n.storage, &out);
    out.append(",\"config\":");
    AppendJsonString(n.config, &out);
    out.append(",\"log\":");
    AppendJsonString(n.log, &out);
    out.push_back('}');
  }
  out.append("],\"processes\":[");
  for (size_t i = 0; i < processes.size(); ++i) {
    const RegionProcess& p = processes[i];
    if (i > 0) out.push_back(',');
    out.append("{\"kind\":");
    AppendJsonString(p.kind, &out);
    out.append(",\"dc\":");
    AppendJsonString(p.dc, &out);
    absl::StrAppend(&out, ",\"pid\":", p.pid, ",\"start_time\":", p.start_time,
                    ",\"needle\":");
    AppendJsonString(p.needle, &out);
    out.push_back('}');
  }
  out.append("]}");
  return out;
}

std::string RegionState::ToText() const {
  std::string out;
  for (const RegionNodeState& n : nodes) {
    absl::StrAppend(&out, "node ", n.dc, " (region ", n.region, ", ", n.storage,
                    ") ", n.endpoint, "\n");
  }
  for (const RegionMemberState& m : members) {
    absl::StrAppend(&out, "member ", m.dc, " postgres 127.0.0.1:", m.pg_port,
                    " patroni http://127.0.0.1:", m.rest_port,
                    " etcd http://127.0.0.1:", m.etcd_client_port, "\n");
  }
  absl::StrAppend(&out, "dsn ", dsn, "\n");
  return out;
}

absl::StatusOr<RegionState> LoadRegionState(const std::string& data_dir) {
  if (!HasOwnedMarker(data_dir)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to use '", data_dir, "': it has no valid ", kOwnedDirMarker,
        " marker (not a directory `clover region up` created)"));
  }
  const std::string path = data_dir + "/" + kRegionStateFile;
  if (access(path.c_str(), F_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no region recorded in '", data_dir, "' (no ", kRegionStateFile, ")"));
  }
  rapidjson::Document doc;
  if (absl::Status s = ParseJson(ReadFile(path), &doc);
      !s.ok() || !doc.IsObject()) {
    return absl::InternalError(absl::StrCat("cannot read ", path));
  }
  auto str = [](const rapidjson::Value& v, const char* k) -> std::string {
    return v.IsObject() && v.HasMember(k) && v[k].IsString() ? v[k].GetString()
                                                             : "";
  };
  auto num = [](const rapidjson::Value& v, const char* k) -> int64_t {
    return v.IsObject() && v.HasMember(k) && v[k].IsInt64() ? v[k].GetInt64()
                                                            : 0;
  };
  auto arr = [&](const char* k) -> const rapidjson::Value* {
    return doc.HasMember(k) && doc[k].IsArray() ? &doc[k] : nullptr;
  };
  RegionState s;
  s.data_dir = str(doc, "data_dir");
  s.dsn = str(doc, "dsn");
  if (const auto* a = arr("members")) {
    for (const auto& v : a->GetArray()) {
      s.members.push_back({str(v, "dc"), str(v, "dir"),
                           static_cast<int>(num(v, "pg_port")),
                           static_cast<int>(num(v, "rest_port")),
                           static_cast<int>(num(v, "etcd_client_port"))});
    }
  }
  if (const auto* a = arr("nodes")) {
    for (const auto& v : a->GetArray()) {
      s.nodes.push_back({str(v, "dc"), str(v, "region"), str(v, "endpoint"),
                         str(v, "storage"), str(v, "config"), str(v, "log")});
    }
  }
  if (const auto* a = arr("processes")) {
    for (const auto& v : a->GetArray()) {
      RegionProcess p;
      p.kind = str(v, "kind");
      p.dc = str(v, "dc");
      p.pid = static_cast<pid_t>(num(v, "pid"));
      p.start_time = v.IsObject() && v.HasMember("start_time") &&
                             v["start_time"].IsUint64()
                         ? v["start_time"].GetUint64()
                         : 0;
      p.needle = str(v, "needle");
      s.processes.push_back(std::move(p));
    }
  }
  return s;
}

absl::StatusOr<RegionState> RegionUp(const RegionUpOptions& options) {
  const absl::Time started = absl::Now();
  if (options.data_dir.empty()) {
    return absl::InvalidArgumentError("--data-dir is required");
  }
  std::error_code ec;
  const std::string dir =
      fs::absolute(options.data_dir, ec).lexically_normal().string();
  const std::string examples =
      fs::absolute(options.config, ec).parent_path().string();
  // A region still recorded here is stopped by `down` first, never
  // overwritten: its processes would be orphaned.
  if (HasOwnedMarker(dir)) {
    absl::StatusOr<RegionState> old = LoadRegionState(dir);
    if (old.ok()) {
      for (const RegionProcess& p : old->processes) {
        if (StillOurs(p)) {
          return absl::FailedPreconditionError(absl::StrCat(
              "a region recorded in '", dir, "' still runs (", p.kind, " of ",
              p.dc, ", pid ", p.pid, "): run `clover region down --data-dir ",
              dir, "` first"));
        }
      }
    }
  }
  // Absolute: the node configurations name the example files by path.
  const std::string config = fs::absolute(options.config, ec).string();
  CLOVER_ASSIGN_OR_RETURN(Deployment d, LoadDeployment(config));
  const Region* replicated = d.FindRegion(options.region);
  if (replicated == nullptr || replicated->dcs.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("the configuration has no region '", options.region,
                     "' with at least two DCs to replicate"));
  }
  // As root the members run as the postgres user, who must be able to
  // reach D/cluster: every directory above D searchable by others.
  if (geteuid() == 0) {
    for (fs::path p = fs::path(dir).parent_path(); !p.empty();
         p = p.parent_path()) {
      struct stat st;
      if (stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the postgres user cannot reach '", dir, "': '", p.string(),
            "' is not searchable by others (chmod o+x, or choose another "
            "directory)"));
      }
      if (p == p.root_path()) break;
    }
  }
  CLOVER_RETURN_IF_ERROR(ResetOwnedDir(dir, "clover region up"));
  // As root the members run as the postgres user, who must reach
  // D/cluster (theirs) but nothing else here: search, no listing. The nodes'
  // keys stay in D/nodes, 0700.
  if (chmod(dir.c_str(), 0711) != 0 ||
      (mkdir((dir + "/nodes").c_str(), 0700) != 0 && errno != EEXIST)) {
    return absl::InternalError(
        absl::StrCat("cannot prepare ", dir, ": ", std::strerror(errno)));
  }

  std::string binary = options.clover_binary;
  if (binary.empty()) binary = fs::read_symlink("/proc/self/exe", ec).string();

  Say(options.progress,
      absl::StrCat("Starting the ", options.region,
                   " region's storage: ", replicated->dcs.size(),
                   " etcd + Patroni-managed PostgreSQL members"));
  RegionClusterOptions co;
  co.dcs.clear();
  for (const DataCenter& dc : replicated->dcs) co.dcs.push_back(dc.id);
  co.ttl_seconds = options.ttl_seconds;
  co.loop_wait_seconds = options.loop_wait_seconds;
  co.retry_timeout_seconds = options.retry_timeout_seconds;
  co.startup_timeout = options.timeout;
  co.dir = dir + "/cluster";
  absl::StatusOr<std::unique_ptr<RegionCluster>> started_cluster =
      RegionCluster::Start(co);
  if (!started_cluster.ok()) {
    return absl::Status(
        started_cluster.status().code(),
        absl::StrCat("the PostgreSQL/Patroni/etcd cluster did not start: ",
                     started_cluster.status().message()));
  }
  std::unique_ptr<RegionCluster> cluster = *std::move(started_cluster);

  RegionState state;
  state.data_dir = dir;
  state.dsn = cluster->dsn();
  for (const RegionMemberProcesses& m : cluster->Processes()) {
    state.members.push_back(
        {m.dc, m.dir, m.pg_port, m.rest_port, m.etcd_client_port});
    state.processes.push_back(
        Recorded("etcd", m.dc, m.etcd_pid, m.dir + "/etcd"));
    state.processes.push_back(
        Recorded("patroni", m.dc, m.patroni_pid, m.dir + "/patroni.yml"));
  }
  Say(options.progress,
      absl::StrCat("  storage ready in ",
                   absl::FormatDuration(absl::Trunc(cluster->startup_time(),
                                                    absl::Milliseconds(100))),
                   "; dsn ", cluster->dsn()));

  // The replicated region's nodes on the cluster, with the residency
  // declarations (each DC's member) and the runtime topology check.
  d.storage.driver = StorageDriver::kPostgres;
  d.storage.postgres_dsn = cluster->dsn() + " connect_timeout=2";
  d.storage.postgres_retry = absl::Seconds(options.postgres_retry_seconds);
  d.storage.patroni_urls.clear();
  for (Region& r : d.regions) {
    if (r.id != options.region) continue;
    for (DataCenter& dc : r.dcs) {
      dc.db_hosts = {cluster->DbHost(dc.id)};
      d.storage.patroni_urls.push_back(cluster->PatroniUrl(dc.id));
    }
  }
  const std::string nodes_dir = dir + "/nodes";
  absl::StatusOr<std::vector<gateway::LocalNode>> nodes =
      gateway::PrepareLocalDeployment(d, nodes_dir, 0,
                                      gateway::FreeLoopbackPort);
  if (!nodes.ok()) {
    return absl::Status(nodes.status().code(),
                        absl::StrCat("preparing the nodes' keys and "
                                     "configurations: ",
                                     nodes.status().message()));
  }
  std::vector<RegionProcess> gateways;
  auto fail = [&](absl::Status s) {
    KillGateways(gateways);
    // The cluster's destructor stops the members; its watchdog (the
    // postgres user, as root) empties D/cluster but cannot remove it from D.
    cluster.reset();
    rmdir((dir + "/cluster").c_str());
    unlink((dir + "/" + kRegionStateFile).c_str());
    return s;
  };
  for (gateway::LocalNode& n : *nodes) {
    RegionNodeState ns;
    ns.dc = n.dc;
    ns.region = n.region;
    ns.endpoint = n.endpoint;
    if (n.region != options.region) {
      n.deployment.storage = StorageConfig{};  // embedded (RocksDB)
    }
    ns.storage = n.deployment.storage.driver == StorageDriver::kPostgres
                     ? "postgres"
                     : "rocksdb";
    ns.config = absl::StrCat(nodes_dir, "/", n.dc, ".yaml");
    ns.log = absl::StrCat(nodes_dir, "/", n.dc, ".log");
    {
      std::ofstream out(ns.config, std::ios::binary | std::ios::trunc);
      out << gateway::NodeConfigYaml(n, examples);
      out.close();
      if (!out) {
        return fail(
            absl::InternalError(absl::StrCat("cannot write ", ns.config)));
      }
    }
    absl::StatusOr<pid_t> pid = SpawnGateway(binary, ns.config, ns.log);
    if (!pid.ok()) return fail(pid.status());
    gateways.push_back(Recorded("gateway", n.dc, *pid, ns.config));
    state.nodes.push_back(std::move(ns));
  }
  state.processes.insert(state.processes.end(), gateways.begin(),
                         gateways.end());
  // Recorded before the wait: a failure from here on is cleaned up below,
  // and a crash of this process leaves what `down` needs.
  if (absl::Status s =
          WriteFileAtomically(dir + "/" + kRegionStateFile, state.ToJson());
      !s.ok()) {
    return fail(s);
  }
  gateway::HttpClient http(absl::Seconds(2));
  for (size_t i = 0; i < state.nodes.size(); ++i) {
    const RegionNodeState& n = state.nodes[i];
    for (;;) {
      int status = 0;
      if (waitpid(gateways[i].pid, &status, WNOHANG) == gateways[i].pid) {
        gateways[i].pid = -1;
        return fail(absl::InternalError(
            absl::StrCat("gateway node ", n.dc, " (", n.storage,
                         ") exited: ", Tail(n.log))));
      }
      absl::StatusOr<gateway::ClientResponse> r =
          http.Send("GET", n.endpoint + "/readyz", {});
      if (r.ok() && r->status == 200) break;
      if (absl::Now() - started > options.timeout) {
        return fail(absl::DeadlineExceededError(absl::StrCat(
            "gateway node ", n.dc, " (", n.endpoint, ") not ready within ",
            absl::FormatDuration(options.timeout), ": ",
            r.ok() ? absl::StrCat("/readyz ", r->status, " ", r->body)
                   : std::string(r.status().message()),
            "; log: ", Tail(n.log))));
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    Say(options.progress,
        absl::StrCat("  node ", n.dc, " (region ", n.region, ", ", n.storage,
                     ") ready on ", n.endpoint));
  }
  cluster->Detach();
  return state;
}

absl::Status RegionDown(const std::string& data_dir, bool remove,
                        std::ostream* progress) {
  std::error_code ec;
  const std::string dir =
      fs::absolute(data_dir, ec).lexically_normal().string();
  CLOVER_ASSIGN_OR_RETURN(RegionState s, LoadRegionState(dir));
  int stopped = 0;
  std::string survivors;
  // Gateways first (they would only see their storage vanish), Patroni next
  // (SIGTERM: it stops its PostgreSQL cleanly), etcd last.
  for (const char* kind : {"gateway", "patroni", "etcd"}) {
    const std::vector<pid_t> pids = Signal(s.processes, kind, SIGTERM);
    const absl::Duration bound =
        std::string(kind) == "patroni" ? absl::Seconds(40) : absl::Seconds(10);
    if (!WaitAllGone(pids, bound)) {
      Signal(s.processes, kind, SIGKILL);
      if (!WaitAllGone(pids, absl::Seconds(10))) {
        absl::StrAppend(&survivors, " ", kind);
      }
    }
    stopped += static_cast<int>(pids.size());
    if (!pids.empty()) {
      Say(progress,
          absl::StrCat("stopped ", pids.size(), " ", kind, " process(es)"));
    }
  }
  // A PostgreSQL whose Patroni was gone already (killed by a drill): only
  // one whose postmaster names this member's data directory.
  for (const RegionMemberState& m : s.members) {
    const pid_t pm = FindPostmaster(m.dir + "/data");
    if (pm <= 0) continue;
    kill(pm, SIGTERM);
    if (!WaitAllGone({pm}, absl::Seconds(10))) {
      if (absl::Status k = KillPostmaster(pm, OwnerOf(pm)); !k.ok()) {
        absl::StrAppend(&survivors, " postgres of ", m.dc);
      }
    }
    ++stopped;
    Say(progress, absl::StrCat("stopped the PostgreSQL of ", m.dc));
  }
  if (!survivors.empty()) {
    return absl::InternalError(
        absl::StrCat("processes survived SIGKILL:", survivors));
  }
  s.processes.clear();
  CLOVER_RETURN_IF_ERROR(
      WriteFileAtomically(dir + "/" + kRegionStateFile, s.ToJson()));
  Say(progress,
      absl::StrCat("region in ", dir, " stopped (", stopped, " processes)"));
  if (remove) {
    CLOVER_RETURN_IF_ERROR(RemoveOwnedDir(dir));
    Say(progress, absl::StrCat("removed ", dir));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RegionStatus(const std::string& data_dir) {
  CLOVER_ASSIGN_OR_RETURN(RegionState s, LoadRegionState(data_dir));
  std::string out = s.ToText();
  for (const RegionProcess& p : s.processes) {
    absl::StrAppend(&out, p.kind, " ", p.dc, " pid ", p.pid, ": ",
                    StillOurs(p) ? "running" : "gone", "\n");
  }
  if (s.processes.empty()) absl::StrAppend(&out, "nothing running\n");
  absl::StatusOr<std::string> leader = RegionLeader(s);
  absl::StrAppend(
      &out, "leader: ",
      leader.ok() ? *leader : std::string(leader.status().message()), "\n");
  return out;
}

absl::StatusOr<std::string> RegionLeader(const RegionState& s) {
  net::HttpClient http;
  std::string last = "no member recorded";
  for (const RegionMemberState& m : s.members) {
    // HttpCall holds views: the URL must outlive the call.
    const std::string url =
        absl::StrCat("http://127.0.0.1:", m.rest_port, "/cluster");
    net::HttpCall call;
    call.url = url;
    call.timeout = absl::Seconds(2);
    absl::StatusOr<net::HttpAnswer> a = http.Send(call);
    if (!a.ok() || a->status != 200) {
      last = a.ok() ? absl::StrCat("/cluster answered ", a->status)
                    : std::string(a.status().message());
      continue;
    }
    CLOVER_ASSIGN_OR_RETURN(std::vector<RegionMemberStatus> members,
                            ParsePatroniCluster(a->body));
    for (const RegionMemberStatus& ms : members) {
      if (ms.role == "leader" && ms.state == "running") return ms.name;
    }
    return absl::NotFoundError("no running leader");
  }
  return absl::UnavailableError(
      absl::StrCat("no Patroni REST API answers: ", last));
}

absl::Status KillDc(const RegionState& s, const std::string& dc) {
  const RegionMemberState* member = nullptr;
  for (const RegionMemberState& m : s.members) {
    if (m.dc == dc) member = &m;
  }
  // Found before anything dies, so that it cannot be missed.
  const pid_t postmaster =
      member != nullptr ? FindPostmaster(member->dir + "/data") : -1;
  std::vector<pid_t> killed;
  for (const RegionProcess& p : s.processes) {
    if (p.dc == dc && StillOurs(p) && kill(p.pid, SIGKILL) == 0) {
      killed.push_back(p.pid);
    }
  }
  if (killed.empty() && postmaster <= 0) {
    return absl::NotFoundError(absl::StrCat("no running process of ", dc));
  }
  if (postmaster > 0) {
    CLOVER_RETURN_IF_ERROR(KillPostmaster(postmaster, OwnerOf(postmaster)));
  }
  if (!WaitAllGone(killed, absl::Seconds(10))) {
    return absl::InternalError(
        absl::StrCat("a process of ", dc, " survived SIGKILL"));
  }
  return absl::OkStatus();
}

}  // namespace clover::region
