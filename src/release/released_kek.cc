#include "release/released_kek.h"

#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/json_parse.h"
#include "core/status_macros.h"
#include "net/http_client.h"
#include "rapidjson/document.h"
#include "release/release_key.h"
#include "release/release_protocol.h"

namespace clover::release {
namespace {

struct RegionState {
  std::string public_key;
  bool cut_off = false;
};

// GET /v1/regions/{region}, over the verified mutual TLS.
absl::StatusOr<RegionState> FetchRegionState(const ReleaseClientOptions& o) {
  net::HttpCall call;
  const std::string url = absl::StrCat(o.url, "/v1/regions/", o.region);
  call.url = url;
  call.timeout = o.timeout;
  call.max_answer_bytes = 64 * 1024;
  call.ca_file = o.ca_file;
  call.client_cert_file = o.cert_file;
  call.client_key_file = o.key_file;
  auto answer = net::ThreadHttpClient().Send(call);
  if (!answer.ok()) {
    return KeyReleaseError(
        kKeyReleaseUnavailable,
        absl::StrCat("the key-release service cannot be reached: ",
                     answer.status().message()));
  }
  rapidjson::Document d;
  RegionState state;
  if (answer->status != 200 || !ParseJson(answer->body, &d).ok() ||
      !d.IsObject() || !d.HasMember("public_key") ||
      !d["public_key"].IsString() || !d.HasMember("cut_off") ||
      !d["cut_off"].IsBool() ||
      !absl::Base64Unescape(d["public_key"].GetString(), &state.public_key)) {
    return KeyReleaseError(
        kKeyReleaseUnavailable,
        absl::StrCat("the key-release service gave no public key for region ",
                     o.region, " (HTTP ", answer->status, ")"));
  }
  state.cut_off = d["cut_off"].GetBool();
  return state;
}

class ReleasedKek : public vault::KeyEncryptionKey {
 public:
  ReleasedKek(std::unique_ptr<vault::KeyEncryptionKey> inner,
              ReleaseClientOptions options)
      : inner_(std::move(inner)),
        options_(std::move(options)),
        id_(ReleaseId(options_.public_key, inner_->id())) {
    if (options_.status_poll > absl::ZeroDuration() && options_.on_failure) {
      poller_ = std::thread([this] { Poll(); });
    }
  }
  ~ReleasedKek() override {
    stop_.Notify();
    if (poller_.joinable()) poller_.join();
  }

  absl::string_view id() const override { return id_; }
  // Epoch keys held in a token stay there; data keys are still sealed.
  vault::EpochKeyCustodian* epoch_custodian() override {
    return inner_->epoch_custodian();
  }

  absl::StatusOr<std::string> Wrap(absl::string_view data_key,
                                   absl::string_view context) override {
    CLOVER_ASSIGN_OR_RETURN(std::string inner, inner_->Wrap(data_key, context));
    auto sealed = SealToRelease(options_.public_key, id_, inner);
    std::fill(inner.begin(), inner.end(), '\0');
    return sealed;
  }

  absl::StatusOr<crypto::SecretKey> Unwrap(
      absl::string_view wrapped, absl::string_view context,
      const vault::UnwrapJustification& why) override {
    if (!IsReleaseSealed(wrapped)) {
      return inner_->Unwrap(wrapped, context, why);
    }
    ReleaseRequest req;
    req.region = options_.region;
    req.wrapped = std::string(wrapped);
    req.justification.principal = why.actor;
    req.justification.purpose = why.purpose;
    req.justification.code = why.code.empty() ? "maintenance" : why.code;
    req.justification.decision_index = why.decision_index;
    req.justification.node = options_.node;
    req.justification.log = options_.decision_log;
    if (options_.subject_label && !absl::StartsWith(context, "epoch:")) {
      req.justification.subject = options_.subject_label(context);
    } else {
      req.justification.subject = std::string(context);
    }
    auto inner = Ask(req);
    if (!inner.ok()) {
      if (options_.on_failure) options_.on_failure(inner.status());
      return inner.status();
    }
    auto key = inner_->Unwrap(*inner, context, why);
    std::fill(inner->begin(), inner->end(), '\0');
    return key;
  }

 private:
  // Asks the service for the region's state every status_poll: a cut-off
  // reaches the node (on_failure, which flushes its key cache) even while
  // every read hits the cache and no release is asked for.
  void Poll() {
    while (!stop_.WaitForNotificationWithTimeout(options_.status_poll)) {
      auto state = FetchRegionState(options_);
      if (state.ok() && state->cut_off) {
        options_.on_failure(KeyReleaseError(
            kKeyReleaseRefused,
            "the key-release partner has cut this region off (status poll)"));
      }
    }
  }

  absl::StatusOr<std::string> Ask(const ReleaseRequest& req) {
    const std::string body = EncodeReleaseRequest(req);
    const std::string url = absl::StrCat(options_.url, "/v1/release");
    net::HttpCall call;
    call.method = "POST";
    call.url = url;
    call.body = body;
    call.headers = {"Content-Type: application/json"};
    call.timeout = options_.timeout;
    call.max_answer_bytes = 64 * 1024;
    call.ca_file = options_.ca_file;
    call.client_cert_file = options_.cert_file;
    call.client_key_file = options_.key_file;
    auto answer = net::ThreadHttpClient().Send(call);
    if (!answer.ok()) {
      return KeyReleaseError(
          kKeyReleaseUnavailable,
          absl::StrCat("the key-release service cannot be reached: ",
                       answer.status().message()));
    }
    rapidjson::Document d;
    const bool json = ParseJson(answer->body, &d).ok() && d.IsObject();
    if (answer->status == 200 && json && d.HasMember("key") &&
        d["key"].IsString()) {
      std::string inner;
      if (absl::Base64Unescape(absl::string_view(d["key"].GetString(),
                                                 d["key"].GetStringLength()),
                               &inner)) {
        return inner;
      }
    }
    std::string code = "unknown";
    if (json && d.HasMember("error") && d["error"].IsObject() &&
        d["error"].HasMember("code") && d["error"]["code"].IsString()) {
      code = d["error"]["code"].GetString();
    }
    std::string where;
    if (json && d.HasMember("log_index") && d["log_index"].IsUint64()) {
      where =
          absl::StrCat(" (release log index ", d["log_index"].GetUint64(), ")");
    }
    if (answer->status == 403) {
      return KeyReleaseError(
          kKeyReleaseRefused,
          absl::StrCat("the key-release partner refused the data key: ", code,
                       where));
    }
    return KeyReleaseError(kKeyReleaseUnavailable,
                           absl::StrCat("the key-release service answered ",
                                        answer->status, " (", code, ")"));
  }

  std::unique_ptr<vault::KeyEncryptionKey> inner_;
  const ReleaseClientOptions options_;
  const std::string id_;
  absl::Notification stop_;
  std::thread poller_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<vault::KeyEncryptionKey>> NewReleasedKek(
    std::unique_ptr<vault::KeyEncryptionKey> inner,
    ReleaseClientOptions options) {
  if (inner == nullptr || options.url.empty() || options.region.empty()) {
    return absl::InvalidArgumentError(
        "key release needs a KEK, the service url and the region");
  }
  if (options.public_key.empty()) {
    CLOVER_ASSIGN_OR_RETURN(RegionState state, FetchRegionState(options));
    options.public_key = std::move(state.public_key);
  }
  if (options.public_key.size() != kReleasePublicKeySize) {
    return absl::InvalidArgumentError("release public key must be 32 bytes");
  }
  return std::make_unique<ReleasedKek>(std::move(inner), std::move(options));
}

}  // namespace clover::release
