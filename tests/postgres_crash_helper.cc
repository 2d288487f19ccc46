// Appends entries "r<round>-t<thread>-<n>" to a PostgreSQL-backed log from two
// threads until killed. After each acknowledgement it prints
// "ack <index> <entry>"; a watcher prints every newly published checkpoint as
// "cp <size> <base64 root>". Each line is one write(2), so a SIGKILL never
// leaves half a line. Appends that fail (the server crashed under it) are not
// printed. Usage: postgres_crash_helper DSN LOG_NAME ROUND
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "log/postgres_storage.h"
#include "log/sequencer.h"
#include "log_crash_common.h"

namespace {

void WriteLine(const std::string& line) {
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = write(1, line.data() + off, line.size() - off);
    if (n <= 0) _exit(3);
    off += static_cast<size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace clover::log;
  if (argc != 4) {
    std::fprintf(stderr, "usage: postgres_crash_helper DSN LOG_NAME ROUND\n");
    return 2;
  }
  auto storage = OpenPostgresLogStorage(argv[1], argv[2]);
  if (!storage.ok()) {
    std::fprintf(stderr, "%s\n", storage.status().ToString().c_str());
    return 1;
  }
  SequencerOptions opts;
  opts.max_batch_entries = 512;  // many small batches: more kill points
  opts.max_batch_wait = absl::Microseconds(200);
  auto signer = *NewNoteSigner(crash::kOrigin, kNoteTypeEd25519, crash::Key());
  auto seq = Sequencer::Open(*std::move(storage), std::move(signer), opts);
  if (!seq.ok()) {
    std::fprintf(stderr, "%s\n", seq.status().ToString().c_str());
    return 1;
  }
  const std::string round = argv[3];
  std::atomic<int> inflight{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t n = 0;; ++n) {
        while (inflight.load() > 4000) std::this_thread::yield();
        std::string entry = absl::StrCat("r", round, "-t", t, "-", n);
        inflight.fetch_add(1);
        (*seq)->Append(entry, [&inflight, entry](absl::StatusOr<uint64_t> r) {
          if (r.ok()) WriteLine(absl::StrCat("ack ", *r, " ", entry, "\n"));
          inflight.fetch_sub(1);
        });
      }
    });
  }
  uint64_t last = UINT64_MAX;
  for (;;) {
    const Checkpoint cp = (*seq)->LatestCheckpoint();
    if (cp.size != last) {
      last = cp.size;
      WriteLine(absl::StrCat(
          "cp ", cp.size, " ",
          absl::Base64Escape(absl::string_view(
              reinterpret_cast<const char*>(cp.root.data()), cp.root.size())),
          "\n"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}
