// Internal to the gateway: the pipeline every endpoint family
// (gateway/endpoints.h) goes through — the shared handler prologue
// (authenticate, declared purpose, body limits), the policy decision, the
// vault's transforms, the decision entry and its durable append before the
// response. Not for use outside src/gateway.
//
// Thread-safety: every method may be called from any thread at once.
#ifndef CLOVER_GATEWAY_PIPELINE_H_
#define CLOVER_GATEWAY_PIPELINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "boost/asio/thread_pool.hpp"
#include "entry/decide.h"
#include "entry/decision_record.h"
#include "gateway/gateway.h"
#include "gateway/health.h"
#include "policy/effect.h"
#include "rapidjson/document.h"
#include "server/http.h"
#include "vault/vault.h"

namespace clover::gateway {

// Maps vault/policy errors to HTTP: erased subjects are 410, a subject of
// another region 421 with its home, everything else by code.
[[nodiscard]] server::HttpResponse ErrorResponse(const absl::Status& status);

// Appends a field's value (a string or a list of strings) as JSON.
void AppendFieldValue(const vault::FieldValue& v, std::string* out);

// The decision of one request over a list of fields, with the ids the log
// needs.
struct Decision {
  std::vector<const FieldSpec*> fields;
  entry::Verdicts verdicts;   // index for index with `fields`
  std::vector<bool> granted;  // approval effect with a live grant
  std::string approval_id;

  bool Returned(size_t i) const {
    policy::Effect e = verdicts.decisions[i].effect;
    return e == policy::Effect::kAllow || e == policy::Effect::kGeneralize ||
           e == policy::Effect::kPseudonymize ||
           (e == policy::Effect::kApproval && granted[i]);
  }
  bool AllAllowed() const {
    for (const auto& d : verdicts.decisions) {
      if (d.effect != policy::Effect::kAllow) return false;
    }
    return true;
  }
  bool AnyReturned() const {
    for (size_t i = 0; i < verdicts.decisions.size(); ++i) {
      if (Returned(i)) return true;
    }
    return false;
  }
};

// An entry to append, with what it names when the gateway knows it (the
// access index then need not read it back from the log).
struct LogEntry {
  std::string json;
  std::optional<std::string> subject;  // pseudonym, "" for none; unset:
                                       // the index reads the entry
};

// Who asks and, where the endpoint takes it from the header, why: what the
// prologue establishes before a handler's own work.
struct Caller {
  const Principal& principal;
  std::string purpose;  // "" unless the prologue read X-Clover-Purpose
};

class Pipeline {
 public:
  // `deps` and `blocking` must outlive the pipeline.
  Pipeline(const GatewayDeps& deps, boost::asio::thread_pool& blocking);

  // Registers the gateway's metrics.
  [[nodiscard]] absl::Status Init();

  const GatewayDeps& deps() const { return d_; }
  const NodeConfig& node() const { return node_; }
  // The jurisdiction this node's DC sits in: the destination of writes and
  // erasures stored here.
  const std::string& storage_jurisdiction() const {
    return storage_jurisdiction_;
  }
  server::Counter& misdirected() const { return *misdirected_; }
  server::Gauge& log_size() const { return *log_size_; }
  // Appends that failed recently (gateway/health.h), for /readyz.
  const FailureWindow& log_health() const { return log_health_; }

  // Route wrappers: the body limits (a JSON content type where there is a
  // body) before anything else, then `fn` on the I/O thread (Inline) or, with
  // a copy of the request, on the blocking pool (Blocking: handlers that wait
  // for a synced storage write or work through many subjects).
  using Endpoint = std::function<void(server::HttpRequest&, server::Responder)>;
  server::Handler Inline(Endpoint fn);
  server::Handler Blocking(Endpoint fn);

  // The shared handler prologue: authenticates the caller; with
  // Purpose::kHeader reads the declared purpose (X-Clover-Purpose); with
  // `json_body` parses the body into it as one JSON object. On failure
  // responds with the error and returns nullopt. Authentication comes first:
  // who is not authenticated learns nothing else.
  enum class Purpose { kNone, kHeader };
  std::optional<Caller> Open(const server::HttpRequest& req,
                             server::Responder& respond, Purpose purpose,
                             rapidjson::Document* json_body = nullptr);

  // The subject's pseudonym in decision entries (crypto/subject_pseudonym.h).
  std::string Pseudonym(absl::string_view subject) const;

  // Decides `fields` for one request and counts the effects.
  Decision Decide(const Principal& p, absl::string_view purpose,
                  absl::string_view action,
                  absl::string_view subject_jurisdiction,
                  absl::string_view destination,
                  std::vector<const FieldSpec*> fields,
                  absl::string_view justification = {});

  // Transforms one field value as `effect` dictates. A subject's siv keys are
  // fetched on first need and kept in `subject_keys` for the subject's other
  // fields.
  absl::StatusOr<vault::FieldValue> Transform(
      const FieldSpec& f, const vault::FieldValue& raw, policy::Effect effect,
      const vault::TokenKeys& keys, absl::string_view subject,
      absl::string_view destination, absl::string_view purpose,
      const vault::AccessContext& ctx,
      std::shared_ptr<const vault::SubjectTokenKeys>& subject_keys);

  // Applies live approval grants to the fields whose effect is `approval`.
  void ApplyGrants(const Principal& p, absl::string_view subject,
                   Decision& dec);

  // The entry of a decision over fields.
  LogEntry DecisionJson(const Principal& p, absl::string_view purpose,
                        absl::string_view action, absl::string_view destination,
                        absl::string_view subject_pseudonym,
                        absl::string_view subject_jurisdiction,
                        const Decision& dec, int64_t records, int64_t bytes,
                        int64_t subjects = -1);

  // The entry of a request that decided no field: a look-up of a subject
  // that is not stored here ("not_found", "gone"), an access report, or a
  // refusal before any field was decided ("forbidden"). It names the
  // principal, action and subject pseudonym; with no fields the auditor's
  // replay has nothing to re-derive.
  LogEntry LookupJson(const Principal& p, absl::string_view purpose,
                      absl::string_view action, absl::string_view destination,
                      absl::string_view subject_pseudonym,
                      absl::string_view outcome, int64_t records = 0,
                      int64_t bytes = 0);

  // Appends `entry`; once durable, calls `then` with its index (on the log's
  // thread: `then` must only build and send a response). 503 if it cannot be
  // logged.
  void LogThen(LogEntry entry, server::Responder respond,
               std::function<server::HttpResponse(uint64_t index)> then);

  // Appends `entry`; once it is durable, runs `effect` (a vault write or
  // erasure) with the entry's index on the blocking pool, and responds with
  // what it returns (see pipeline.cc).
  void LogThenEffect(
      LogEntry entry, server::Responder respond,
      std::function<server::HttpResponse(uint64_t index)> effect);

  // LogThenEffect for several entries with one effect: appends each (appends
  // arriving together share the sequencer's durable batch write); once every
  // append is done, runs `effect` once on the blocking pool with each entry's
  // index or its append's error, in order. For a batch of vault writes made
  // durable together (Vault::PutBatch); each effect still follows its
  // decision's durable entry.
  void LogAllThenEffect(
      std::vector<LogEntry> entries,
      std::function<void(std::vector<absl::StatusOr<uint64_t>>)> effect);

  // Logs a refusal and answers 403 with the log index.
  void RefuseLogged(LogEntry entry, absl::string_view message,
                    server::Responder respond);

  // Answers a look-up whose subject the vault does not have: 404 for an
  // unknown subject, 410 for an erased one, each after its entry is durable
  // (an existence check is an access too). Other errors (a malformed id,
  // storage) are answered without an entry.
  void RespondAbsent(const Principal& p, absl::string_view purpose,
                     absl::string_view action, absl::string_view destination,
                     const std::string& subject, const absl::Status& status,
                     server::Responder respond);

  // Reads `subject`'s row without holding a thread while the database answers
  // (Vault::FetchRow; concurrent requests' reads share round trips), then
  // runs `fn` with it on the storage thread that read it (no further
  // hand-off); the blocking pool's shutdown waits for it. `fn` must not wait
  // for another FetchRow. Only where the vault fetches_rows_async().
  void WithFetchedRow(const std::string& subject,
                      std::function<void(vault::Vault::FetchedRow)> fn);

  // Appends `entry`; once durable, answers 200 with the JSON `prefix`, the
  // entry's index and `suffix`.
  void LogThenAnswer(LogEntry entry, server::Responder respond,
                     std::string prefix, std::string suffix);

 private:
  static server::HttpResponse WithIndex(int status, const std::string& prefix,
                                        uint64_t index,
                                        const std::string& suffix);
  absl::string_view FieldGroupsJson(const Decision& dec);
  void RecordAppend(const absl::Status& status);
  entry::DecisionRecord RecordOf(const Principal& p, absl::string_view purpose,
                                 absl::string_view action,
                                 absl::string_view destination,
                                 absl::string_view subject_pseudonym) const;

  const GatewayDeps& d_;
  const NodeConfig& node_;
  boost::asio::thread_pool& blocking_;
  std::string storage_jurisdiction_;
  const uint64_t generation_;
  server::CounterFamily* decisions_ = nullptr;
  server::Histogram* append_latency_ = nullptr;
  server::Gauge* log_size_ = nullptr;
  server::Counter* misdirected_ = nullptr;
  FailureWindow log_health_;
};

// What every endpoint family's handlers reach the rest through.
class EndpointFamily {
 public:
  explicit EndpointFamily(Pipeline& pipe)
      : pipe_(pipe), d_(pipe.deps()), node_(pipe.node()) {}

 protected:
  Pipeline& pipe_;
  const GatewayDeps& d_;
  const NodeConfig& node_;
};

// An endpoint calling `fn` on the family object `self` (which the route
// keeps alive).
template <typename T>
Pipeline::Endpoint Bind(std::shared_ptr<T> self,
                        void (T::*fn)(server::HttpRequest&,
                                      server::Responder)) {
  return [self = std::move(self), fn](server::HttpRequest& req,
                                      server::Responder respond) {
    ((*self).*fn)(req, std::move(respond));
  };
}

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_PIPELINE_H_
