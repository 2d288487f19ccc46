// `clover bench [NAME...]`: runs this build's benchmarks. Each prints its
// figures next to a baseline measured in the same run (OpenSSL SHA-256 or HMAC,
// the reference evaluator, /healthz of the same server). The programs live in
// the build tree beside this binary (BUILD/bench/bench_*), the load scripts in
// the source tree (bench/*.sh, given BUILD).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "cli/command.h"

namespace clover::cli {
namespace {

struct Benchmark {
  const char* name;
  const char* program;  // in BUILD/bench, or a script in SOURCE/bench
  bool script;
  const char* what;
};

constexpr Benchmark kBenchmarks[] = {
    {"log", "bench_log", false,
     "durable appends/s, p99 at 100k/s, proofs at 10M, restart"},
    {"policy", "bench_policy", false,
     "10-field decision vs 1,000 rules, 10,000-rule load, proofs"},
    {"vault", "bench_vault", false,
     "hmac/siv/ff1 tokens, puts and gets at 1M subjects; key custody: "
     "file KEK vs SoftHSM vs external release"},
    {"release", "bench_release", false,
     "vault reads with external key release vs the file KEK, cost of a "
     "release"},
    {"audit", "bench_audit", false, "auditor pipeline entries/s"},
    {"server", "bench_server", false,
     "per-request server work: counters, routing, target parsing"},
    {"http-server", "bench_http_server", false,
     "loopback req/s: bare handler vs router + metrics"},
    {"server-wrk", "server-wrk.sh", true, "wrk against the server's /healthz"},
    {"postgres", "bench_postgres", false,
     "PostgreSQL log and vault drivers (starts a server)"},
    {"gateway", "gateway-wrk.sh", true,
     "wrk: audited reads vs /healthz, latency at 70% of peak"},
    {"gateway-release", "gateway-release.sh", true,
     "wrk: audited reads and updates, file KEK vs SoftHSM vs external "
     "release (warm, cold), cost per release"},
    {"writes", "gateway-writes.sh", true,
     "wrk: audited writes alone, and reads beside writes"},
    {"keepup", "audit-keepup.sh", true,
     "auditor verify+replay rate vs the gateway's peak, one run"},
    {"region", "region-throughput.sh", true,
     "wrk: audited reads/writes, replicated region vs embedded node"},
    {"failover", "region-failover.sh", true,
     "region failover time (kill to first ack) over 5 drills"},
};

// BUILD is three levels above BUILD/src/cli/clover.
std::filesystem::path BuildDir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return exe.parent_path().parent_path().parent_path();
}

int RunOne(const Benchmark& b, const std::filesystem::path& build) {
  const std::filesystem::path program =
      b.script ? std::filesystem::path(CLOVER_SOURCE_DIR) / "bench" / b.program
               : build / "bench" / b.program;
  if (access(program.c_str(), X_OK) != 0) {
    std::cerr << "clover: bench " << b.name << ": " << program.string()
              << " is missing (build the release preset: make build)\n";
    return kExitRuntime;
  }
  std::cout << "== " << b.name << " (" << program.string() << ")" << std::endl;
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) {
    std::cerr << "clover: bench: fork failed\n";
    return kExitRuntime;
  }
  if (pid == 0) {
    const std::string build_arg = build.string();
    if (b.script) {
      execl(program.c_str(), program.c_str(), build_arg.c_str(),
            static_cast<char*>(nullptr));
    } else {
      execl(program.c_str(), program.c_str(), static_cast<char*>(nullptr));
    }
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return kExitRuntime;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return kExitOk;
  std::cerr << "clover: bench " << b.name << " failed\n";
  return kExitRuntime;
}

}  // namespace

void RegisterBenchCommands(CLI::App& app) {
  auto* bench = app.add_subcommand(
      "bench", "Run this build's benchmarks (no NAME: list them; 'all')");
  auto names = std::make_shared<std::vector<std::string>>();
  bench->add_option("name", *names, "Benchmarks to run, or 'all'");
  SetAction(bench, [names] {
    if (names->empty()) {
      for (const Benchmark& b : kBenchmarks)
        std::printf("%-12s %s\n", b.name, b.what);
      return kExitOk;
    }
    std::vector<const Benchmark*> chosen;
    for (const std::string& n : *names) {
      if (n == "all") {
        for (const Benchmark& b : kBenchmarks) chosen.push_back(&b);
        continue;
      }
      const Benchmark* found = nullptr;
      for (const Benchmark& b : kBenchmarks)
        if (n == b.name) found = &b;
      if (found == nullptr) {
        std::vector<std::string> known;
        for (const Benchmark& b : kBenchmarks) known.push_back(b.name);
        std::cerr << "clover: bench: unknown benchmark '" << n
                  << "' (known: " << absl::StrJoin(known, ", ") << ", all)\n";
        return kExitBadInput;
      }
      chosen.push_back(found);
    }
    const std::filesystem::path build = BuildDir();
    int rc = kExitOk;
    for (const Benchmark* b : chosen) {
      if (RunOne(*b, build) != kExitOk) rc = kExitRuntime;
    }
    return rc;
  });
}

}  // namespace clover::cli
