#include "gateway/key_release.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "crypto/constant_time.h"
#include "crypto/secret_key_file.h"
#include "crypto/subject_pseudonym.h"
#include "gateway/health.h"
#include "release/release_protocol.h"
#include "release/released_kek.h"
#include "spdlog/spdlog.h"

namespace clover::gateway {
namespace {

// One error line per 10 s at most while releases keep failing, with the
// count: a cut-off region fails every miss, and the log must stay readable.
class FailureReporter {
 public:
  void Report(const absl::Status& s) {
    absl::MutexLock lock(&mu_);
    ++failures_;
    const absl::Time now = absl::Now();
    if (now - last_ < absl::Seconds(10)) return;
    spdlog::error(
        "incident: key release failed ({} since the last report): {} — reads "
        "of subjects whose data key is not cached fail closed with 503",
        failures_, std::string(s.message()));
    failures_ = 0;
    last_ = now;
  }

 private:
  absl::Mutex mu_;
  uint64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace

absl::Status ConfigureKeyRelease(const Deployment& deployment,
                                 vault::VaultOptions& options,
                                 const VaultSlot& slot) {
  if (!deployment.keys.release.has_value()) return absl::OkStatus();
  const KeyReleaseConfig& c = *deployment.keys.release;
  release::ReleaseClientOptions r;
  r.url = c.url;
  r.region = deployment.node.has_value() ? deployment.node->region : "";
  r.node = deployment.node.has_value() ? deployment.node->id : "";
  r.decision_log = deployment.log.origin;
  r.ca_file = c.ca_file;
  r.cert_file = c.cert_file;
  r.key_file = c.key_file;
  if (!c.public_key.empty() &&
      !absl::Base64Unescape(c.public_key, &r.public_key)) {
    return absl::InvalidArgumentError(
        "keys.release.public_key: expected base64");
  }
  r.timeout = c.timeout;
  r.status_poll = c.status_poll;
  // The service sees the subject as the decision log names it.
  auto root = crypto::ReadSecretKeyFile(deployment.keys.pseudonym_key_file);
  if (!root.ok()) return root.status();
  auto log_key = crypto::DeriveLogSubjectKey(*root);
  crypto::SecureWipe(root->data(), root->size());
  if (!log_key.ok()) return log_key.status();
  r.subject_label = [key = *log_key](absl::string_view subject) {
    return crypto::SubjectPseudonym(key, subject);
  };
  auto reporter = std::make_shared<FailureReporter>();
  r.on_failure = [slot, reporter](const absl::Status& s) {
    reporter->Report(s);
    KeyReleaseHealth().Failed(
        {"key_unavailable",
         "the key-release service refused or did not answer a release"},
        s);
    if (release::KeyReleaseCode(s) == release::kKeyReleaseRefused) {
      if (vault::Vault* v = slot->load()) v->DropKeyCache();
    }
  };
  options.subject_cache_ttl = std::min(options.subject_cache_ttl, c.cache_ttl);
  options.subject_cache_entries = std::min(
      options.subject_cache_entries, static_cast<size_t>(c.cache_entries));
  options.kek_layer =
      [r = std::move(r)](std::unique_ptr<vault::KeyEncryptionKey> kek) {
        return release::NewReleasedKek(std::move(kek), r);
      };
  return absl::OkStatus();
}

}  // namespace clover::gateway
