// Runs a crash-test helper process and kills it with SIGKILL: shared by the
// crash tests whose helper prints what it has made durable.
#ifndef CLOVER_TESTS_CRASH_RUNNER_H_
#define CLOVER_TESTS_CRASH_RUNNER_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace clover::crashtest {

struct KilledRun {
  std::string output;        // everything the helper printed
  size_t midway_offset = 0;  // how much it had printed when `midway` ran
};

// Runs `argv` (argv[0] is the binary) with its stdout captured, for
// `before_ms`; calls `midway` (if set); lets it run `after_ms` more; then
// SIGKILLs it and reads what is left in the pipe. A helper that exits by
// itself is a test failure (its output tail is shown).
inline KilledRun RunAndKill(const std::vector<std::string>& argv, int before_ms,
                            int after_ms = 0,
                            const std::function<void()>& midway = nullptr) {
  KilledRun run;
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  char buf[65536];
  auto drain_until = [&](std::chrono::steady_clock::time_point deadline) {
    while (std::chrono::steady_clock::now() < deadline) {
      const ssize_t n = read(fds[0], buf, sizeof(buf));
      if (n > 0) {
        run.output.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        return;  // the helper died on its own
      } else {
        usleep(1000);
      }
    }
  };
  drain_until(std::chrono::steady_clock::now() +
              std::chrono::milliseconds(before_ms));
  run.midway_offset = run.output.size();
  if (midway) midway();
  drain_until(std::chrono::steady_clock::now() +
              std::chrono::milliseconds(after_ms));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  fcntl(fds[0], F_SETFL, 0);
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
    run.output.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  const std::string& out = run.output;
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "helper exited early with status " << status << "; output tail: "
      << out.substr(out.size() > 500 ? out.size() - 500 : 0);
  return run;
}

}  // namespace clover::crashtest

#endif  // CLOVER_TESTS_CRASH_RUNNER_H_
