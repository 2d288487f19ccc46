#include "audit/outbox.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status_macros.h"
#include "crypto/constant_time.h"
#include "crypto/hmac.h"
#include "spdlog/spdlog.h"

namespace clover::audit {
namespace {

size_t DiscardBody(char*, size_t size, size_t nmemb, void*) {
  return size * nmemb;
}

std::string CursorKey(absl::string_view name) {
  return absl::StrCat("cursor/", name);
}

}  // namespace

std::string WebhookSignature(absl::string_view secret, int64_t timestamp,
                             absl::string_view body) {
  // std::string converts to whichever string_view flavour the crypto API takes.
  absl::StatusOr<crypto::HmacSha256Tag> tag = crypto::HmacSha256Once(
      std::string(secret), absl::StrCat(timestamp, ".", body));
  if (!tag.ok()) return "v1=";
  return absl::StrCat(
      "v1=", absl::BytesToHexString(absl::string_view(
                 reinterpret_cast<const char*>(tag->data()), tag->size())));
}

absl::Status VerifyWebhookSignature(absl::string_view secret,
                                    absl::string_view timestamp_header,
                                    absl::string_view signature_header,
                                    absl::string_view body, absl::Time now,
                                    absl::Duration tolerance) {
  int64_t ts;
  timestamp_header = absl::StripAsciiWhitespace(timestamp_header);
  // Digits only: "+5" or " 5" would sign differently than they parse.
  if (timestamp_header.empty() || timestamp_header.size() > 18 ||
      !std::all_of(timestamp_header.begin(), timestamp_header.end(),
                   absl::ascii_isdigit) ||
      !absl::SimpleAtoi(timestamp_header, &ts)) {
    return absl::UnauthenticatedError("X-Clover-Timestamp is missing or bad");
  }
  if (absl::AbsDuration(now - absl::FromUnixSeconds(ts)) > tolerance) {
    return absl::UnauthenticatedError(
        "X-Clover-Timestamp is outside the tolerance (a replay?)");
  }
  const std::string want = WebhookSignature(secret, ts, body);
  bool ok = false;
  for (absl::string_view sig : absl::StrSplit(signature_header, ',')) {
    sig = absl::StripAsciiWhitespace(sig);
    ok |= crypto::ConstantTimeEquals(std::string_view(sig.data(), sig.size()),
                                     want);
  }
  if (!ok) return absl::UnauthenticatedError("X-Clover-Signature mismatch");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<WebhookSink>> WebhookSink::Create(
    std::string url, std::string secret, absl::Duration timeout,
    const Clock& clock) {
  if (url.empty()) return absl::InvalidArgumentError("webhook URL is empty");
  if (secret.empty())
    return absl::InvalidArgumentError("webhook secret is empty");
  return std::unique_ptr<WebhookSink>(
      new WebhookSink(std::move(url), std::move(secret), timeout, clock));
}

WebhookSink::WebhookSink(std::string url, std::string secret,
                         absl::Duration timeout, const Clock& clock)
    : url_(std::move(url)),
      secret_(std::move(secret)),
      timeout_(timeout),
      clock_(clock) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  curl_ = curl_easy_init();
}

WebhookSink::~WebhookSink() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

absl::Status WebhookSink::Deliver(uint64_t seq, absl::string_view event) {
  CURL* c = static_cast<CURL*>(curl_);
  if (c == nullptr) return absl::InternalError("libcurl initialisation failed");
  curl_easy_reset(c);
  const int64_t now = absl::ToUnixSeconds(clock_.Now());
  const std::string stamp = absl::StrCat("X-Clover-Timestamp: ", now);
  const std::string sig = absl::StrCat("X-Clover-Signature: ",
                                       WebhookSignature(secret_, now, event));
  const std::string delivery = absl::StrCat("X-Clover-Delivery: ", seq);
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, stamp.c_str());
  headers = curl_slist_append(headers, sig.c_str());
  headers = curl_slist_append(headers, delivery.c_str());
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, event.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(event.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(timeout_)));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, DiscardBody);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat("webhook POST failed: ", curl_easy_strerror(rc)));
  }
  if (status < 200 || status > 299) {
    return absl::UnavailableError(
        absl::StrCat("webhook answered HTTP ", status));
  }
  return absl::OkStatus();
}

JsonlSink::~JsonlSink() {
  if (fd_ >= 0) close(fd_);
}

absl::Status JsonlSink::Deliver(uint64_t seq, absl::string_view event) {
  if (fd_ < 0) {
    fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      return absl::UnavailableError(absl::StrCat(
          "cannot open incident file '", path_, "': ", std::strerror(errno)));
    }
  }
  std::string line = absl::StrCat(event, "\n");
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = write(fd_, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::UnavailableError(absl::StrCat(
          "writing incident file '", path_, "': ", std::strerror(errno)));
    }
    off += static_cast<size_t>(n);
  }
  if (fdatasync(fd_) != 0) {
    return absl::UnavailableError(absl::StrCat("syncing incident file '", path_,
                                               "': ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<OutboxWorker>> OutboxWorker::Start(
    IncidentStore* store, std::unique_ptr<EventSink> sink,
    OutboxOptions options) {
  uint64_t cursor = 0;
  absl::StatusOr<std::string> v = store->kv()->Get(CursorKey(sink->name()));
  if (v.ok()) {
    if (!absl::SimpleAtoi(*v, &cursor)) {
      return absl::DataLossError(
          absl::StrCat("corrupt outbox cursor for ", sink->name()));
    }
  } else if (!absl::IsNotFound(v.status())) {
    return v.status();
  }
  return std::unique_ptr<OutboxWorker>(
      new OutboxWorker(store, std::move(sink), options, cursor));
}

OutboxWorker::OutboxWorker(IncidentStore* store,
                           std::unique_ptr<EventSink> sink,
                           OutboxOptions options, uint64_t cursor)
    : store_(store),
      sink_(std::move(sink)),
      options_(options),
      cursor_(cursor) {
  thread_ = std::thread([this] { Run(); });
}

OutboxWorker::~OutboxWorker() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void OutboxWorker::Run() {
  absl::Duration backoff = options_.initial_backoff;
  while (!stop_.HasBeenNotified()) {
    const uint64_t cursor = cursor_.load();
    if (store_->WaitForEvents(cursor, absl::Milliseconds(200)) <= cursor)
      continue;
    absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> events =
        store_->ReadEvents(cursor, 32);
    if (!events.ok() || events->empty()) {
      if (!events.ok())
        spdlog::error("outbox {}: {}", sink_->name(),
                      events.status().ToString());
      stop_.WaitForNotificationWithTimeout(backoff);
      continue;
    }
    for (const auto& [seq, event] : *events) {
      if (stop_.HasBeenNotified()) return;
      absl::Status s = sink_->Deliver(seq, event);
      if (!s.ok()) {
        failures_.fetch_add(1);
        spdlog::warn("outbox {}: event {} not delivered, retrying in {}: {}",
                     sink_->name(), seq, absl::FormatDuration(backoff),
                     std::string(s.message()));
        stop_.WaitForNotificationWithTimeout(backoff);
        backoff = std::min(backoff * 2, options_.max_backoff);
        break;
      }
      backoff = options_.initial_backoff;
      absl::Status c =
          store_->kv()->Put(CursorKey(sink_->name()), absl::StrCat(seq + 1));
      if (!c.ok()) {
        spdlog::error("outbox {}: cannot persist cursor: {}", sink_->name(),
                      c.ToString());
        stop_.WaitForNotificationWithTimeout(backoff);
        break;
      }
      cursor_.store(seq + 1);
    }
  }
}

}  // namespace clover::audit
