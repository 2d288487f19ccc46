// A small pool of non-thread-safe crypto objects (keyed OpenSSL contexts)
// shared by threads: each caller leases one, so contexts are reused without
// being shared.
#ifndef CLOVER_VAULT_OBJECT_POOL_H_
#define CLOVER_VAULT_OBJECT_POOL_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace clover::vault {

template <typename T>
class ObjectPool {
 public:
  using Factory = std::function<absl::StatusOr<std::unique_ptr<T>>()>;

  // Keeps at most `max_idle` objects between leases.
  explicit ObjectPool(Factory factory, size_t max_idle = 64)
      : factory_(std::move(factory)), max_idle_(max_idle) {}

  class Lease {
   public:
    Lease(ObjectPool* pool, std::unique_ptr<T> obj)
        : pool_(pool), obj_(std::move(obj)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (obj_ != nullptr) pool_->Release(std::move(obj_));
    }
    T* operator->() const { return obj_.get(); }
    T& operator*() const { return *obj_; }

   private:
    ObjectPool* pool_;
    std::unique_ptr<T> obj_;
  };

  // An idle object, or a new one from the factory. Errors: those of the
  // factory.
  [[nodiscard]] absl::StatusOr<Lease> Acquire() {
    {
      absl::MutexLock lock(&mu_);
      if (!idle_.empty()) {
        std::unique_ptr<T> obj = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(obj));
      }
    }
    absl::StatusOr<std::unique_ptr<T>> obj = factory_();
    if (!obj.ok()) return obj.status();
    return Lease(this, std::move(*obj));
  }

 private:
  void Release(std::unique_ptr<T> obj) {
    absl::MutexLock lock(&mu_);
    if (idle_.size() < max_idle_) idle_.push_back(std::move(obj));
  }

  const Factory factory_;
  const size_t max_idle_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<T>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace clover::vault

#endif  // CLOVER_VAULT_OBJECT_POOL_H_
