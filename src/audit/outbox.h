// At-least-once, in-order delivery of the incident journal (incident_store.h)
// to sinks: a webhook (HTTP POST via libcurl, HMAC-SHA-256 signed) and a
// JSON-lines file. Each worker keeps its own cursor ("cursor/<sink name>") in
// the KvStore, advanced only after the sink accepted an event, so a crash (even
// SIGKILL) redelivers rather than loses. Receivers de-duplicate on the
// X-Clover-Delivery header (the journal sequence number).
#ifndef CLOVER_AUDIT_OUTBOX_H_
#define CLOVER_AUDIT_OUTBOX_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "audit/incident_store.h"

namespace clover::audit {

// Where events go. Deliver is called from one worker thread at a time.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual const std::string& name() const = 0;
  // OK once the sink has durably accepted the event; any error means "retry
  // later".
  [[nodiscard]] virtual absl::Status Deliver(uint64_t seq,
                                             absl::string_view event) = 0;
};

// POSTs each event as the request body (Content-Type application/json) with
// headers
//   X-Clover-Signature: sha256=<lower-case hex HMAC-SHA-256(secret, body)>
//   X-Clover-Delivery: <seq>
// Any 2xx is success. The secret never appears in errors.
class WebhookSink final : public EventSink {
 public:
  // Errors: InvalidArgument for an empty URL or secret.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<WebhookSink>> Create(
      std::string url, std::string secret,
      absl::Duration timeout = absl::Seconds(10));
  ~WebhookSink() override;
  const std::string& name() const override { return name_; }
  absl::Status Deliver(uint64_t seq, absl::string_view event) override;

 private:
  WebhookSink(std::string url, std::string secret, absl::Duration timeout);
  const std::string name_ = "webhook";
  const std::string url_;
  const std::string secret_;
  const absl::Duration timeout_;
  void* curl_ = nullptr;  // CURL*, reused for keep-alive
};

// "sha256=<hex>" over `body`.
[[nodiscard]] std::string WebhookSignature(absl::string_view secret,
                                           absl::string_view body);

// Appends each event as one line to a file (created 0600), fsync'ed.
class JsonlSink final : public EventSink {
 public:
  explicit JsonlSink(std::string path) : path_(std::move(path)) {}
  ~JsonlSink() override;
  const std::string& name() const override { return name_; }
  absl::Status Deliver(uint64_t seq, absl::string_view event) override;

 private:
  const std::string name_ = "jsonl";
  const std::string path_;
  int fd_ = -1;
};

struct OutboxOptions {
  absl::Duration initial_backoff = absl::Milliseconds(250);
  absl::Duration max_backoff = absl::Seconds(60);
};

// One delivery thread per sink.
class OutboxWorker {
 public:
  // Reads the sink's cursor and starts the thread. `store` must outlive the
  // worker. Errors: Internal/DataLoss reading the cursor.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<OutboxWorker>> Start(
      IncidentStore* store, std::unique_ptr<EventSink> sink,
      OutboxOptions options = {});
  // Stops and joins (an in-flight delivery finishes or times out first).
  ~OutboxWorker();
  OutboxWorker(const OutboxWorker&) = delete;
  OutboxWorker& operator=(const OutboxWorker&) = delete;

  // Events delivered so far (the cursor).
  uint64_t cursor() const { return cursor_.load(); }
  uint64_t failed_attempts() const { return failures_.load(); }

 private:
  OutboxWorker(IncidentStore* store, std::unique_ptr<EventSink> sink,
               OutboxOptions options, uint64_t cursor);
  void Run();

  IncidentStore* const store_;
  std::unique_ptr<EventSink> sink_;
  const OutboxOptions options_;
  std::atomic<uint64_t> cursor_;
  std::atomic<uint64_t> failures_{0};
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_OUTBOX_H_
