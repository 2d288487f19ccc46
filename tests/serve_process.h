// A real `clover serve` child process for the multi-process tests (crash,
// erasure purge, region failover and residency): started from a node
// configuration file, waited for on /readyz. The including test target
// defines CLOVER_BINARY (the path of the `clover` binary).
#ifndef CLOVER_TESTS_SERVE_PROCESS_H_
#define CLOVER_TESTS_SERVE_PROCESS_H_

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/http_client.h"

namespace clover::test {

// Forks `clover serve --config CONFIG --threads 2`. Its stdout and stderr go
// to `log_file` (appended) or, when that is empty, its stderr is discarded.
// Returns the child's pid.
inline pid_t ForkCloverServe(const std::string& config,
                             const std::string& log_file = "") {
  const pid_t pid = fork();
  if (pid == 0) {
    if (log_file.empty()) {
      const int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 2);
    } else {
      const int fd =
          open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
    }
    execl(CLOVER_BINARY, CLOVER_BINARY, "serve", "--config", config.c_str(),
          "--threads", "2", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Polls `endpoint`/readyz (each request bounded by `request_timeout`) until
// it answers 200 (true) or `timeout` has passed (false).
inline bool WaitUntilReady(const std::string& endpoint, absl::Duration timeout,
                           absl::Duration request_timeout = absl::Seconds(2)) {
  gateway::HttpClient c(request_timeout);
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto r = c.Send("GET", endpoint + "/readyz", {});
    if (r.ok() && r->status == 200) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

}  // namespace clover::test

#endif  // CLOVER_TESTS_SERVE_PROCESS_H_
