#include "gateway/jwks_cache.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/json_parse.h"
#include "core/logger.h"
#include "net/http_client.h"
#include "rapidjson/document.h"

namespace clover::gateway {
namespace {

absl::StatusOr<std::string> ReadJwksFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path, "'"));
  // One byte more than allowed: ParseJwks then refuses it as too large.
  std::string out(kMaxJwksBytes + 1, '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

const Clock& ClockOf(const JwksCacheOptions& o) {
  return o.clock != nullptr ? *o.clock : SystemClock();
}

}  // namespace

JwksFetcher MakeJwksFetcher(const IdentityProviderConfig& c) {
  if (!c.jwks_file.empty()) {
    return [path = c.jwks_file] { return ReadJwksFile(path); };
  }
  // One client per provider: fetches are serialised by the cache.
  auto client = std::make_shared<net::HttpClient>();
  return [client, url = c.jwks_url, ca = c.ca_file,
          timeout = c.fetch_timeout]() -> absl::StatusOr<std::string> {
    net::HttpCall call;
    call.url = url;
    call.timeout = timeout;
    call.ca_file = ca;
    call.max_answer_bytes = kMaxJwksBytes;
    call.headers.push_back("Accept: application/json");
    absl::StatusOr<net::HttpAnswer> answer = client->Send(call);
    if (!answer.ok()) return answer.status();
    if (answer->status != 200) {
      return absl::UnavailableError(
          absl::StrCat("JWKS endpoint answered HTTP ", answer->status));
    }
    return std::move(answer->body);
  };
}

JwksCache::JwksCache(JwksFetcher fetch, JwksCacheOptions options)
    : fetch_(std::move(fetch)), options_(std::move(options)) {}

JwksCache::~JwksCache() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Status JwksCache::Refresh() {
  absl::MutexLock fetch_lock(&fetch_mu_);
  return RefreshLocked();
}

absl::Status JwksCache::RefreshLocked() {
  const absl::Time start = ClockOf(options_).Now();
  {
    absl::MutexLock lock(&mu_);
    last_attempt_ = start;
  }
  fetches_.fetch_add(1);
  absl::StatusOr<std::string> doc = fetch_();
  absl::StatusOr<JwkSet> set =
      doc.ok() ? ParseJwks(*doc) : absl::StatusOr<JwkSet>(doc.status());
  if (!set.ok()) {
    // The cause names the URL (without query) or the document's fault,
    // never key material.
    logging::Warn(
        "identity provider: JWKS refresh failed, keeping the last "
        "good key set",
        {{"provider", options_.name}, {"cause", set.status().ToString()}});
    return set.status();
  }
  const size_t keys = set->by_kid.size();
  {
    absl::MutexLock lock(&mu_);
    set_ = std::make_shared<const JwkSet>(*std::move(set));
    last_success_ = start;
  }
  logging::Debug(
      "identity provider: JWKS refreshed",
      {{"provider", options_.name}, {"keys", static_cast<int64_t>(keys)}});
  return absl::OkStatus();
}

void JwksCache::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] {
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        if (mu_.AwaitWithTimeout(absl::Condition(&stop_),
                                 options_.refresh_interval)) {
          return;
        }
      }
      absl::MutexLock fetch_lock(&fetch_mu_);
      (void)RefreshLocked();  // a failure is logged there
    }
  });
}

absl::Status JwksCache::Stale(absl::Time now) const {
  if (set_ == nullptr) {
    return absl::UnavailableError(
        "identity provider keys unavailable (never fetched)");
  }
  if (now - last_success_ > options_.max_staleness) {
    return absl::UnavailableError(
        "identity provider keys unavailable (older than max_staleness)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const JwtPublicKey>> JwksCache::Find(
    absl::string_view kid) {
  const Clock& clock = ClockOf(options_);
  absl::Status problem;
  for (int round = 0; round < 2; ++round) {
    const absl::Time now = clock.Now();
    bool due = false;
    {
      absl::ReaderMutexLock lock(&mu_);
      problem = Stale(now);
      if (problem.ok()) {
        auto it = set_->by_kid.find(kid);
        if (it != set_->by_kid.end()) return it->second;
        problem = absl::UnauthenticatedError(
            "invalid JWT: 'kid' is not a key of the identity provider");
      }
      due = now - last_attempt_ >= options_.min_refresh_interval;
    }
    if (!due || round == 1) break;
    absl::MutexLock fetch_lock(&fetch_mu_);
    // Another request may have refreshed while this one waited.
    bool still_due = false;
    {
      absl::ReaderMutexLock lock(&mu_);
      still_due = clock.Now() - last_attempt_ >= options_.min_refresh_interval;
    }
    if (still_due) (void)RefreshLocked();
  }
  return problem;
}

std::optional<HealthProblem> JwksCache::Health() const {
  absl::ReaderMutexLock lock(&mu_);
  if (Stale(ClockOf(options_).Now()).ok()) return std::nullopt;
  return HealthProblem{"identity_unavailable",
                       "an identity provider's keys could not be fetched "
                       "within its max_staleness"};
}

JwksIdentityProvider::JwksIdentityProvider(IdentityProviderConfig config,
                                           const Clock* clock,
                                           JwksFetcher fetch)
    : config_(std::move(config)),
      cache_(fetch != nullptr ? std::move(fetch) : MakeJwksFetcher(config_),
             JwksCacheOptions{config_.id, config_.refresh_interval,
                              config_.min_refresh_interval,
                              config_.max_staleness, clock}) {}

absl::StatusOr<std::string> JwksIdentityProvider::Verify(const ParsedJwt& jwt,
                                                         absl::Time now) {
  if (jwt.kid.empty()) {
    return absl::UnauthenticatedError(
        "invalid JWT: no 'kid' (identity provider tokens must name their key)");
  }
  auto key = cache_.Find(jwt.kid);
  if (!key.ok()) return key.status();
  JwtExpectations expect{config_.issuer, config_.audience, now, config_.leeway};
  expect.max_lifetime = config_.max_lifetime;
  if (absl::Status s = VerifyJwt(jwt, **key, expect); !s.ok()) return s;
  if (config_.claim == "sub") {
    if (jwt.claims.sub.empty())
      return absl::UnauthenticatedError("invalid JWT: no 'sub' claim");
    return jwt.claims.sub;
  }
  // Another claim (e.g. "preferred_username", "email"): read from the
  // payload, which the signature has just been checked over.
  const size_t dot = jwt.signing_input.find('.');
  auto payload =
      Base64UrlDecode(absl::string_view(jwt.signing_input).substr(dot + 1));
  rapidjson::Document doc;
  if (dot == std::string::npos || !payload.ok() ||
      !ParseJson(*payload, &doc).ok() || !doc.IsObject()) {
    return absl::UnauthenticatedError("invalid JWT: unreadable payload");
  }
  auto begin = doc.MemberBegin();
  for (rapidjson::SizeType i = 0; i < doc.MemberCount(); ++i) {
    const auto& m = begin[i];
    if (absl::string_view(m.name.GetString(), m.name.GetStringLength()) !=
        config_.claim)
      continue;
    if (!m.value.IsString() || m.value.GetStringLength() == 0) break;
    return std::string(m.value.GetString(), m.value.GetStringLength());
  }
  return absl::UnauthenticatedError(absl::StrCat(
      "invalid JWT: no string claim '", config_.claim, "' naming a principal"));
}

}  // namespace clover::gateway
