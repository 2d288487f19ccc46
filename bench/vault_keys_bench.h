// bench_vault's key-custody section: vault reads and writes with the KEK as a
// file, in a PKCS#11 token (SoftHSM2) and behind external key release (a
// key-release service on loopback), measured in one run and reported as
// rates and as ratios to the file KEK (issue 20's "Done when").
#ifndef CLOVER_BENCH_VAULT_KEYS_BENCH_H_
#define CLOVER_BENCH_VAULT_KEYS_BENCH_H_

#include <cstddef>
#include <string>

namespace clover::vault {

struct KeyBenchOptions {
  size_t subjects = 10'000;  // per vault
  double seconds = 1.0;      // per figure, split over the interleaved rounds
  // Scratch directory the caller owns (emptied by it): the stores, the
  // SoftHSM token and the release service's files go under it.
  std::string dir;
};

// Prints the section. A kind whose setup fails (e.g. softhsm2 not installed)
// is reported as "skipped: <why>" and the others still run. Returns false if
// the file-KEK or release figures could not be measured (the caller exits
// non-zero).
[[nodiscard]] bool RunKeyCustodyBench(const KeyBenchOptions& options);

}  // namespace clover::vault

#endif  // CLOVER_BENCH_VAULT_KEYS_BENCH_H_
