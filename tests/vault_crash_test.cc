// Crash test for the vault (RocksDB driver). The parent starts this same binary
// as a writer child that stores subjects from two threads of Puts and one of
// PutBatch (8 subjects per batch) and prints "ack <id> <version>" after each
// acknowledged write; the parent SIGKILLs it at a random
// moment, reopens the vault and checks that every acknowledged write is
// readable with the acknowledged content (or the write that immediately
// followed it, which may have landed before the kill). Repeated for several
// rounds on the same store, so earlier rounds' data must survive later crashes.
//
//   vault_crash_test [--rounds N] [--seed S]          parent
//   vault_crash_test --writer DIR PREFIX              child (internal)
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "core/owned_dir.h"
#include "crypto/secret_key_file.h"
#include "vault/key_encryption_key.h"
#include "vault/vault.h"

namespace clover::vault {
namespace {

Deployment CrashDeployment(const std::string& dir) {
  Deployment d;
  d.jurisdictions = {{"eu", "EU", {"IE"}}};
  d.regions = {{"eu", {"eu"}, {{"ie-dub-1", "IE", "http://127.0.0.1:8441"}}}};
  FieldSpec email;
  email.name = "email";
  email.category = "contact";
  email.format = FieldFormat::kEmail;
  email.method = PseudonymMethod::kHmac;
  FieldSpec name;
  name.name = "name";
  name.category = "identity";
  name.format = FieldFormat::kText;
  name.method = PseudonymMethod::kSiv;
  d.schema.fields = {email, name};
  d.keys.kek_file = dir + "/kek.key";
  d.keys.pseudonym_key_file = dir + "/pseudonym.key";
  return d;
}

Record RecordFor(const std::string& id, int version) {
  Record r;
  r.country = "IE";
  r.fields = {
      {"email", false, id + "@mail.example", {}},
      {"name", false, "Name " + id + " v" + std::to_string(version), {}}};
  return r;
}

absl::StatusOr<std::unique_ptr<Vault>> OpenVault(const std::string& dir) {
  VaultOptions options;
  options.region = "eu";
  return Vault::OpenEmbedded(CrashDeployment(dir), options, dir + "/db");
}

int Writer(const std::string& dir, const std::string& prefix) {
  auto vault = OpenVault(dir);
  if (!vault.ok()) {
    std::fprintf(stderr, "writer: %s\n", vault.status().ToString().c_str());
    return 1;
  }
  absl::Mutex out_mu;
  // Thread 2 writes batches of 8 subjects (Vault::PutBatch, one storage
  // write each) and acknowledges each subject once its batch returned: a
  // batch acknowledged before the kill must be there whole.
  auto work_batches = [&] {
    for (int i = 0;; ++i) {
      std::vector<std::string> ids;
      for (int k = 0; k < 8; ++k) {
        ids.push_back(prefix + "-b-" + std::to_string(i) + "-" +
                      std::to_string(k));
      }
      for (int version = 1; version <= 2; ++version) {
        std::vector<Record> records;
        for (const std::string& id : ids) {
          records.push_back(RecordFor(id, version));
        }
        std::vector<Vault::BatchItem> items;
        for (size_t k = 0; k < ids.size(); ++k) {
          items.push_back({ids[k], &records[k], nullptr});
        }
        absl::Status write_status;
        auto results = (*vault)->PutBatch(items, &write_status);
        for (size_t k = 0; k < results.size(); ++k) {
          if (!write_status.ok() || !results[k].ok()) {
            std::fprintf(stderr, "writer: batch put %s: %s\n", ids[k].c_str(),
                         results[k].status().ToString().c_str());
            std::_Exit(1);
          }
        }
        absl::MutexLock lock(&out_mu);
        for (const std::string& id : ids) {
          std::printf("ack %s %d\n", id.c_str(), version);
        }
        std::fflush(stdout);
      }
    }
  };
  auto work = [&](int thread) {
    for (int i = 0;; ++i) {
      std::string id =
          prefix + "-" + std::to_string(thread) + "-" + std::to_string(i);
      for (int version = 1; version <= 2; ++version) {
        auto r = (*vault)->Put(id, RecordFor(id, version));
        if (!r.ok()) {
          std::fprintf(stderr, "writer: put %s: %s\n", id.c_str(),
                       r.status().ToString().c_str());
          std::_Exit(1);
        }
        absl::MutexLock lock(&out_mu);
        std::printf("ack %s %d\n", id.c_str(), version);
        std::fflush(stdout);
      }
    }
  };
  std::thread a(work, 0), b(work, 1), c(work_batches);
  a.join();
  b.join();
  c.join();
  return 0;
}

int Parent(int rounds, uint64_t seed) {
  auto made = CreateOwnedTempDir("vault-crash", "/tmp");
  if (!made.ok()) {
    std::fprintf(stderr, "%s\n", std::string(made.status().message()).c_str());
    return 1;
  }
  const std::string dir = *made;
  for (const char* name : {"/kek.key", "/pseudonym.key"}) {
    auto key = crypto::GenerateSecretKey();
    if (!key.ok() || !crypto::WriteSecretKeyFile(dir + name, *key).ok()) {
      std::fprintf(stderr, "cannot write key files in %s\n", dir.c_str());
      return 1;
    }
  }
  std::mt19937_64 rng(seed);
  std::map<std::string, int> acked;  // id -> highest acknowledged version
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (len <= 0) return 1;
  self[len] = '\0';
  int failures = 0;
  size_t total_checked = 0;

  for (int round = 0; round < rounds; ++round) {
    int fds[2];
    if (pipe(fds) != 0) return 1;
    std::string prefix = "r" + std::to_string(round);
    pid_t pid = fork();
    if (pid == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      execl(self, self, "--writer", dir.c_str(), prefix.c_str(),
            static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    const auto kill_at =
        std::chrono::steady_clock::now() +
        std::chrono::milliseconds(150 + static_cast<int>(rng() % 600));
    std::string buffer;
    char chunk[65536];
    bool killed = false;
    while (true) {
      ssize_t n = read(fds[0], chunk, sizeof(chunk));
      if (n > 0) {
        buffer.append(chunk, static_cast<size_t>(n));
      } else if (n == 0) {
        break;  // writer gone
      } else {
        if (!killed && std::chrono::steady_clock::now() >= kill_at) {
          kill(pid, SIGKILL);
          killed = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
      std::fprintf(stderr, "round %d: writer exited on its own (status %d)\n",
                   round, status);
      return 1;
    }
    size_t round_acks = 0;
    // Only complete lines were acknowledged; a torn last line was not.
    size_t end = buffer.rfind('\n');
    const std::string complete =
        buffer.substr(0, end == std::string::npos ? 0 : end);
    for (absl::string_view line :
         absl::StrSplit(complete, '\n', absl::SkipEmpty())) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      int version = 0;
      if (parts.size() != 3 || parts[0] != "ack" ||
          !absl::SimpleAtoi(parts[2], &version)) {
        std::fprintf(stderr, "round %d: bad line from writer\n", round);
        return 1;
      }
      int& v = acked[std::string(parts[1])];
      if (version > v) v = version;
      ++round_acks;
    }

    auto vault = OpenVault(dir);
    if (!vault.ok()) {
      std::fprintf(stderr, "round %d: reopen: %s\n", round,
                   vault.status().ToString().c_str());
      return 1;
    }
    AccessContext ctx{"crash-test", "verify"};
    for (const auto& [id, version] : acked) {
      auto got = (*vault)->Get(id, {}, ctx);
      bool ok = got.ok() && (*got == RecordFor(id, version) ||
                             (version == 1 && *got == RecordFor(id, 2)));
      if (!ok) {
        ++failures;
        std::fprintf(
            stderr, "round %d: acknowledged %s v%d lost: %s\n", round,
            id.c_str(), version,
            got.ok() ? "wrong content" : got.status().ToString().c_str());
      }
      ++total_checked;
    }
    std::printf(
        "round %d: killed writer after %zu acknowledged writes; %zu subjects "
        "verified\n",
        round, round_acks, acked.size());
  }
  if (absl::Status s = RemoveOwnedDir(dir); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    ++failures;
  }
  std::printf("%zu passed, %d failed\n",
              total_checked - static_cast<size_t>(failures), failures);
  return failures == 0 && !acked.empty() ? 0 : 1;
}

}  // namespace
}  // namespace clover::vault

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--writer") {
    return clover::vault::Writer(argv[2], argv[3]);
  }
  int rounds = 6;
  uint64_t seed = static_cast<uint64_t>(
      std::chrono::steady_clock::now().time_since_epoch().count());
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--rounds" && absl::SimpleAtoi(argv[i + 1], &rounds) &&
        rounds > 0)
      continue;
    if (flag == "--seed" && absl::SimpleAtoi(argv[i + 1], &seed)) continue;
    std::fprintf(stderr, "usage: vault_crash_test [--rounds N] [--seed S]\n");
    return 2;
  }
  std::printf("vault crash test: %d rounds, seed %llu\n", rounds,
              static_cast<unsigned long long>(seed));
  return clover::vault::Parent(rounds, seed);
}
