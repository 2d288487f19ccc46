#include "crypto/random.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <atomic>
#include <climits>
#include <cstring>

#include "crypto/openssl_util.h"

namespace clover::crypto {
namespace {

// RAND_bytes costs about a microsecond per call in OpenSSL 3.0 whatever the
// size, and a vault write needs four small draws (data key, handle, two
// nonces). Small requests are therefore served from a per-thread buffer filled
// by one RAND_bytes call; served bytes are wiped from the buffer at once. A
// fork invalidates every buffer (the child must never replay the parent's
// bytes: that would repeat GCM nonces).
constexpr size_t kBufferSize = 4096;
constexpr size_t kMaxBuffered = 64;

std::atomic<uint64_t> g_fork_generation{0};

void OnFork() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

struct ThreadBuffer {
  uint8_t bytes[kBufferSize];
  size_t available = 0;
  uint64_t generation = 0;
  ~ThreadBuffer() { OPENSSL_cleanse(bytes, sizeof(bytes)); }
};

absl::Status Fill(uint8_t* out, size_t len) {
  while (len > 0) {
    int chunk =
        len > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(len);
    if (RAND_bytes(out, chunk) != 1)
      return internal::OpenSslError("RAND_bytes");
    out += chunk;
    len -= static_cast<size_t>(chunk);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RandomBytes(uint8_t* out, size_t len) {
  static const bool registered = [] {
    return pthread_atfork(nullptr, nullptr, OnFork) == 0;
  }();
  if (!registered || len > kMaxBuffered) return Fill(out, len);
  thread_local ThreadBuffer buffer;
  uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
  if (buffer.generation != generation) {
    OPENSSL_cleanse(buffer.bytes, sizeof(buffer.bytes));
    buffer.available = 0;
    buffer.generation = generation;
  }
  if (buffer.available < len) {
    absl::Status s = Fill(buffer.bytes, kBufferSize);
    if (!s.ok()) return s;
    buffer.available = kBufferSize;
  }
  uint8_t* src = buffer.bytes + (kBufferSize - buffer.available);
  std::memcpy(out, src, len);
  OPENSSL_cleanse(src, len);
  buffer.available -= len;
  return absl::OkStatus();
}

absl::StatusOr<std::string> RandomString(size_t len) {
  std::string out(len, '\0');
  absl::Status s = RandomBytes(reinterpret_cast<uint8_t*>(out.data()), len);
  if (!s.ok()) return s;
  return out;
}

}  // namespace clover::crypto
