// At-least-once, in-order delivery of the incident journal (incident_store.h)
// to sinks: a webhook (HTTP POST via libcurl, HMAC-SHA-256 signed over a
// timestamp and the body) and a
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
#include "core/clock.h"
#include "net/http_client.h"

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
//   X-Clover-Timestamp: <Unix seconds at sending>
//   X-Clover-Signature: v1=<lower-case hex HMAC-SHA-256(secret,
//                            timestamp "." body)>
//   X-Clover-Delivery: <seq>  (also the body's "seq", which is signed)
// Any 2xx is success. A redelivery is signed afresh with its own timestamp, so
// receivers reject stale timestamps (VerifyWebhookSignature) and de-duplicate
// on the seq. The secret never appears in errors.
class WebhookSink final : public EventSink {
 public:
  // Errors: InvalidArgument for an empty URL or secret.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<WebhookSink>> Create(
      std::string url, std::string secret,
      absl::Duration timeout = absl::Seconds(10),
      const Clock& clock = SystemClock());
  ~WebhookSink() override;
  const std::string& name() const override { return name_; }
  absl::Status Deliver(uint64_t seq, absl::string_view event) override;

 private:
  WebhookSink(std::string url, std::string secret, absl::Duration timeout,
              const Clock& clock);
  const std::string name_ = "webhook";
  const std::string url_;
  const std::string secret_;
  const absl::Duration timeout_;
  const Clock& clock_;
  net::HttpClient client_;  // reused: keeps the connection alive
};

// "v1=<hex>": HMAC-SHA-256 under `secret` of the decimal `timestamp`, ".",
// and `body`.
[[nodiscard]] std::string WebhookSignature(absl::string_view secret,
                                           int64_t timestamp,
                                           absl::string_view body);

// What a receiver does with a delivery: OK if `signature_header` holds a "v1="
// signature (among comma-separated ones) that matches `timestamp_header` and
// `body` under `secret` (compared in constant time) and the timestamp is
// within `tolerance` of `now` either way. Errors: Unauthenticated naming what
// failed (never the secret or the expected signature).
inline constexpr absl::Duration kWebhookTolerance = absl::Minutes(5);
[[nodiscard]] absl::Status VerifyWebhookSignature(
    absl::string_view secret, absl::string_view timestamp_header,
    absl::string_view signature_header, absl::string_view body, absl::Time now,
    absl::Duration tolerance = kWebhookTolerance);

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
