// A LogStorage that hands every call to another one: the base of drivers that
// decorate a real driver (counting bytes, injecting write failures) and only
// override what they change.
#ifndef CLOVER_LOG_FORWARDING_STORAGE_H_
#define CLOVER_LOG_FORWARDING_STORAGE_H_

#include <memory>
#include <string>
#include <utility>

#include "log/storage.h"

namespace clover::log {

class ForwardingLogStorage : public LogStorage {
 public:
  explicit ForwardingLogStorage(std::unique_ptr<LogStorage> base)
      : base_(std::move(base)) {}

  absl::StatusOr<std::string> ReadTile(int level, uint64_t index) override {
    return base_->ReadTile(level, index);
  }
  absl::StatusOr<std::string> ReadEntryBundle(uint64_t index) override {
    return base_->ReadEntryBundle(index);
  }
  absl::StatusOr<std::string> ReadBundleFragment(
      const FragmentId& id) override {
    return base_->ReadBundleFragment(id);
  }
  absl::StatusOr<std::string> ReadCheckpoint() override {
    return base_->ReadCheckpoint();
  }
  absl::StatusOr<std::string> ReadMetadata() override {
    return base_->ReadMetadata();
  }
  absl::Status Write(const LogWriteBatch& batch) override {
    return base_->Write(batch);
  }

 protected:
  LogStorage& base() { return *base_; }

 private:
  std::unique_ptr<LogStorage> base_;
};

}  // namespace clover::log

#endif  // CLOVER_LOG_FORWARDING_STORAGE_H_
