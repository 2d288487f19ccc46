// The legacy migration's node side (`clover migrate legacy`, issue 23;
// docs/api.md "Legacy migration"):
//   POST /v1/migrations/records         a batch of writes, one decided and
//                                       logged write entry per record
//   POST /v1/migrations/records/verify  read back: one decided and logged
//                                       read entry per subject, answering the
//                                       stored record's canonical hash only
//   POST /v1/migrations/deletions       the batch's deletion attestation
//                                       (entry/legacy_deletion.h)
// The first two go through the policy like PUT and GET; the third only for a
// principal with the role `migration` asking with purpose `migration`.
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "core/canonical_json.h"
#include "entry/legacy_deletion.h"
#include "entry/log_entry.h"
#include "gateway/endpoints.h"
#include "gateway/pipeline.h"
#include "gateway/request_util.h"
#include "log/tile.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "vault/erased.h"
#include "vault/record_hash.h"
#include "vault/record_parser.h"
#include "vault/residency.h"

namespace clover::gateway {
namespace {

using server::HttpRequest;
using server::HttpResponse;
using server::Responder;

// Records (or subjects) per request: a batch's body stays well under the
// server's 1 MiB body limit at typical record sizes.
constexpr size_t kMaxBatch = 1000;
// Records per attestation: its entry carries one key hash (67 bytes) and one
// write index per record, and an entry bundle frames entries in 64 KiB.
constexpr size_t kMaxAttested = 500;
constexpr absl::string_view kMigrationRole = "migration";
constexpr absl::string_view kMigrationPurpose = "migration";

// Collects the per-item responses of a batch and answers once all are in:
// {"results":[{"status":S,...the item's own body members...},...]} in request
// order.
class BatchAnswer {
 public:
  BatchAnswer(size_t n, Responder respond)
      : slots_(n), pending_(n), respond_(std::move(respond)) {}

  Responder Slot(std::shared_ptr<BatchAnswer> self, size_t i) {
    return [self = std::move(self), i](HttpResponse r) {
      self->slots_[i] = std::move(r);
      if (self->pending_.fetch_sub(1) == 1) self->Finish();
    };
  }

 private:
  void Finish() {
    std::string body = "{\"results\":[";
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (i > 0) body.push_back(',');
      const HttpResponse& r = slots_[i];
      absl::StrAppend(&body, "{\"status\":", r.status);
      if (r.body.size() > 2 && r.body.front() == '{') {
        body.push_back(',');
        body.append(r.body, 1, std::string::npos);
      } else {
        body.push_back('}');
      }
    }
    body.append("]}");
    respond_(HttpResponse::Json(200, std::move(body)));
  }

  std::vector<HttpResponse> slots_;
  std::atomic<size_t> pending_;
  Responder respond_;
};

std::string Serialize(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

// The member `name` of `body` as an array of 1..kMaxBatch items.
absl::StatusOr<const rapidjson::Value*> BatchArray(
    const rapidjson::Document& body, const char* name) {
  auto it = body.FindMember(name);
  if (it == body.MemberEnd() || !it->value.IsArray()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field '", name, "': required, an array"));
  }
  if (it->value.Empty() || it->value.Size() > kMaxBatch) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field '", name, "': 1 to ", kMaxBatch, " items per request"));
  }
  return &it->value;
}

// Entries of the log read by index, each entry bundle read once. Measured
// need (bench/migrate.sh, 2-core VM): an attestation checks its 500 write
// indexes, and Sequencer::ReadEntry reads and leaf-hashes the entry's whole
// bundle of 256 (0.28 ms) per entry: 140 ms of CPU per attestation under the
// node's attestation lock, about 280 us per migrated record and the largest
// cost of the run (the migration ran at 1,664 records/s). A batch's writes
// lie in a few bundles, so reading each bundle once costs a few of them.
class EntryReader {
 public:
  explicit EntryReader(log::Sequencer& log) : log_(log), size_(log.Size()) {}

  // The entry at `index`; nullopt if it is beyond the log or its bundle
  // cannot be read (or does not match the tree).
  std::optional<absl::string_view> Read(uint64_t index) {
    if (index >= size_) return std::nullopt;
    const uint64_t bundle = index / log::kTileWidth;
    auto it = bundles_.find(bundle);
    if (it == bundles_.end()) {
      it = bundles_.try_emplace(bundle).first;
      Bundle& b = it->second;
      const int width = static_cast<int>(std::min<uint64_t>(
          log::kTileWidth, size_ - bundle * log::kTileWidth));
      auto data = log_.ReadEntryBundle(bundle, width);
      if (data.ok()) {
        b.data = *std::move(data);
        auto parsed = log::ParseEntryBundle(b.data);
        if (parsed.ok()) b.entries = *std::move(parsed);
      }
    }
    const size_t pos = index % log::kTileWidth;
    if (pos >= it->second.entries.size()) return std::nullopt;
    return it->second.entries[pos];
  }

 private:
  struct Bundle {
    std::string data;
    std::vector<absl::string_view> entries;  // into data
  };
  log::Sequencer& log_;
  const uint64_t size_;
  // Node-based: a bundle's data stays put while its entries point into it.
  std::map<uint64_t, Bundle> bundles_;
};

class MigrationEndpoints : public EndpointFamily {
 public:
  using EndpointFamily::EndpointFamily;

  // POST /v1/migrations/records: each record as PUT /v1/subjects/{id} would
  // take it (decided over every field, logged, then stored), except that a
  // record of another region is refused (421) rather than forwarded, and
  // that the records allowed are stored by one durable vault write once all
  // their decisions are logged (gateway/endpoints.h WriteSubjects).
  void WriteRecords(HttpRequest& req, Responder respond) {
    rapidjson::Document body;
    auto caller = pipe_.Open(req, respond, Pipeline::Purpose::kHeader, &body);
    if (!caller) return;
    auto records = BatchArray(body, "records");
    if (!records.ok()) return respond(ErrorResponse(records.status()));
    const rapidjson::Value& list = **records;
    for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
      const rapidjson::Value& r = list[i];
      if (!r.IsObject() || !r.HasMember("id") || !r["id"].IsString()) {
        return respond(ErrorResponse(absl::InvalidArgumentError(absl::StrCat(
            "field 'records[", i, "]': an object with a string \"id\""))));
      }
    }
    auto answer =
        std::make_shared<BatchAnswer>(list.Size(), std::move(respond));
    std::vector<std::pair<std::string, std::string>> items;
    std::vector<Responder> slots;
    for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
      rapidjson::Value& r = body["records"][i];
      std::string subject(r["id"].GetString(), r["id"].GetStringLength());
      r.RemoveMember("id");
      items.emplace_back(std::move(subject), Serialize(r));
      slots.push_back(answer->Slot(answer, i));
    }
    // One vault write for the batch's allowed records (WriteSubjects), each
    // still decided and logged on its own.
    WriteSubjects(pipe_, caller->principal, caller->purpose, std::move(items),
                  std::move(slots));
  }

  // POST /v1/migrations/records/verify: a read of every field of each
  // subject, decided and logged like GET, whose destination is where the
  // record is stored: what leaves the node is only the record's canonical
  // hash (vault/record_hash.h), never a value.
  void VerifyRecords(HttpRequest& req, Responder respond) {
    rapidjson::Document body;
    auto caller = pipe_.Open(req, respond, Pipeline::Purpose::kHeader, &body);
    if (!caller) return;
    auto subjects = BatchArray(body, "subjects");
    if (!subjects.ok()) return respond(ErrorResponse(subjects.status()));
    const rapidjson::Value& list = **subjects;
    for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
      if (!list[i].IsString()) {
        return respond(ErrorResponse(absl::InvalidArgumentError(
            absl::StrCat("field 'subjects[", i, "]': a string"))));
      }
    }
    auto answer =
        std::make_shared<BatchAnswer>(list.Size(), std::move(respond));
    for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
      VerifyOne(caller->principal, caller->purpose,
                std::string(list[i].GetString(), list[i].GetStringLength()),
                answer->Slot(answer, i));
    }
  }

  void VerifyOne(const Principal& p, const std::string& purpose,
                 const std::string& subject, Responder respond) {
    const std::string& destination = pipe_.storage_jurisdiction();
    auto jurisdiction = d_.vault->HomeJurisdiction(subject);
    if (!jurisdiction.ok()) {
      return pipe_.RespondAbsent(p, purpose, "read", destination, subject,
                                 jurisdiction.status(), std::move(respond));
    }
    auto all = ResolveFields(d_.deployment->schema, {});
    if (!all.ok()) return respond(ErrorResponse(all.status()));
    Decision dec = pipe_.Decide(p, purpose, "read", *jurisdiction, destination,
                                *std::move(all));
    std::string pseudonym = pipe_.Pseudonym(subject);
    if (!dec.AllAllowed()) {
      return pipe_.RefuseLogged(
          pipe_.DecisionJson(p, purpose, "read", destination, pseudonym,
                             *jurisdiction, dec, 0, 0),
          "the policy does not allow this principal to read this subject",
          std::move(respond));
    }
    pipe_.LogThenEffect(
        pipe_.DecisionJson(p, purpose, "read", destination, pseudonym,
                           *jurisdiction, dec, 1, 64),
        std::move(respond),
        [this, subject, purpose, actor = p.id](uint64_t index) -> HttpResponse {
          vault::Vault::ReadScope scope(*d_.vault, subject);
          vault::AccessContext ctx{actor, purpose, "read", index};
          auto record = d_.vault->Get(subject, {}, ctx);
          if (!record.ok()) return ErrorResponse(record.status());
          std::string body =
              absl::StrCat("{\"log_index\":", index, ",\"sha256\":\"",
                           vault::CanonicalRecordHash(*std::move(record)),
                           "\",\"subject\":");
          AppendJsonString(subject, &body);
          body.push_back('}');
          return HttpResponse::Json(200, std::move(body));
        });
  }

  // POST /v1/migrations/deletions: checks that each write index is a write
  // entry of this log, by the caller, for purpose migration, of the subject
  // named beside it; then appends the legacy_deletion entry and answers its
  // index. Idempotent per (migration, batch): a repeat answers the first
  // entry's index (200 instead of 201) and appends nothing.
  void AttestDeletion(HttpRequest& req, Responder respond) {
    rapidjson::Document body;
    auto caller = pipe_.Open(req, respond, Pipeline::Purpose::kHeader, &body);
    if (!caller) return;
    const Principal& p = caller->principal;
    if (std::find(p.roles.begin(), p.roles.end(), kMigrationRole) ==
            p.roles.end() ||
        caller->purpose != kMigrationPurpose) {
      return respond(HttpResponse::Error(
          403, "permission_denied",
          "deletion attestations are appended for a principal with the role "
          "migration, purpose migration, only"));
    }
    auto bad = [&](absl::string_view msg) {
      respond(ErrorResponse(absl::InvalidArgumentError(msg)));
    };
    auto str = [&](const char* name, size_t max) -> std::optional<std::string> {
      auto it = body.FindMember(name);
      if (it == body.MemberEnd() || !it->value.IsString() ||
          it->value.GetStringLength() == 0 ||
          it->value.GetStringLength() > max) {
        return std::nullopt;
      }
      return std::string(it->value.GetString(), it->value.GetStringLength());
    };
    std::optional<std::string> migration = str("migration", 128);
    if (!migration) return bad("field 'migration': required, 1-128 bytes");
    std::optional<std::string> source = str("source", 512);
    if (!source) return bad("field 'source': required, 1-512 bytes");
    auto b = body.FindMember("batch");
    if (b == body.MemberEnd() || !b->value.IsUint64()) {
      return bad("field 'batch': required, a non-negative integer");
    }
    const uint64_t batch = b->value.GetUint64();
    auto subjects = BatchArray(body, "subjects");
    if (!subjects.ok()) return respond(ErrorResponse(subjects.status()));
    auto keys = BatchArray(body, "keys");
    if (!keys.ok()) return respond(ErrorResponse(keys.status()));
    auto indexes = BatchArray(body, "write_indexes");
    if (!indexes.ok()) return respond(ErrorResponse(indexes.status()));
    const size_t n = (*subjects)->Size();
    if (n > kMaxAttested) {
      return bad(absl::StrCat("field 'subjects': at most ", kMaxAttested,
                              " records per attestation"));
    }
    if ((*keys)->Size() != n || (*indexes)->Size() != n) {
      return bad(
          "fields 'subjects', 'keys' and 'write_indexes': one item each per "
          "record");
    }
    entry::LegacyDeletion a;
    std::vector<std::string> pseudonyms;
    std::set<uint64_t> seen_indexes;
    std::set<std::string> seen_keys;
    for (size_t i = 0; i < n; ++i) {
      const rapidjson::Value& s = (**subjects)[i];
      const rapidjson::Value& k = (**keys)[i];
      const rapidjson::Value& w = (**indexes)[i];
      if (!s.IsString() || !k.IsString() || !w.IsUint64()) {
        return bad(absl::StrCat(
            "item ", i,
            ": subjects and keys are strings, write_indexes integers"));
      }
      std::string key(k.GetString(), k.GetStringLength());
      if (!seen_keys.insert(key).second ||
          !seen_indexes.insert(w.GetUint64()).second) {
        return bad(absl::StrCat("item ", i, ": a key or write index repeats"));
      }
      pseudonyms.push_back(pipe_.Pseudonym(
          absl::string_view(s.GetString(), s.GetStringLength())));
      a.key_hashes.push_back(entry::LegacyKeyHash(*source, key));
      a.write_indexes.push_back(w.GetUint64());
    }

    absl::MutexLock lock(&mu_);
    if (absl::Status s = LoadAttestedLocked(); !s.ok()) {
      return respond(ErrorResponse(s));
    }
    if (auto it = attested_.find({*migration, batch}); it != attested_.end()) {
      return respond(HttpResponse::Json(
          200,
          absl::StrCat("{\"log_index\":", it->second, ",\"repeated\":true}")));
    }
    // Each write index must be this caller's migration write of the subject
    // named beside it: an attestation cannot claim writes it did not make.
    EntryReader entries(*d_.log);
    entry::LogEntry e;
    for (size_t i = 0; i < n; ++i) {
      const uint64_t w = a.write_indexes[i];
      std::optional<absl::string_view> text = entries.Read(w);
      if (!text.has_value() || !entry::ParseLogEntry(*text, &e).ok() ||
          e.type != entry::EntryType::kDecision ||
          e.decision.action != "write" || e.decision.principal_id != p.id ||
          e.decision.purpose != kMigrationPurpose ||
          e.decision.subject != pseudonyms[i] || e.decision.records != 1) {
        return respond(HttpResponse::Error(
            409, "failed_precondition",
            absl::StrCat("write_indexes[", i,
                         "]: not this principal's migration write of the "
                         "subject named beside it in this node's log")));
      }
    }
    a.time = d_.clock->Now();
    a.node = node_.id;
    a.region = node_.region;
    a.migration = *migration;
    a.source = *source;
    a.batch = batch;
    a.records = n;
    a.subjects_root = entry::MigratedSubjectsRoot(std::move(pseudonyms));
    LogEntry entry;
    entry.json = entry::LegacyDeletionJson(std::move(a));
    entry.subject = "";
    absl::Notification done;
    HttpResponse answer;
    pipe_.LogThen(
        std::move(entry),
        [&](HttpResponse r) {
          answer = std::move(r);
          done.Notify();
        },
        [](uint64_t index) {
          return HttpResponse::Json(201, absl::StrCat("{\"log_index\":", index,
                                                      ",\"repeated\":false}"));
        });
    done.WaitForNotification();
    if (answer.status == 201 && answer.log_index >= 0) {
      attested_[{*migration, batch}] = static_cast<uint64_t>(answer.log_index);
    }
    respond(std::move(answer));
  }

 private:
  // Reads the legacy_deletion entries this log holds up to its current size
  // (once; later ones are added as they are appended, under mu_).
  absl::Status LoadAttestedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (loaded_) return absl::OkStatus();
    const uint64_t size = d_.log->Size();
    for (uint64_t bundle = 0; bundle * log::kTileWidth < size; ++bundle) {
      const uint64_t end =
          std::min<uint64_t>((bundle + 1) * log::kTileWidth, size);
      const int width = static_cast<int>(end - bundle * log::kTileWidth);
      auto data = d_.log->ReadEntryBundle(bundle, width);
      if (!data.ok()) return data.status();
      auto entries = log::ParseEntryBundle(*data);
      if (!entries.ok()) return entries.status();
      for (size_t i = 0; i < entries->size(); ++i) {
        absl::string_view text = (*entries)[i];
        if (!absl::StrContains(text, "\"legacy_deletion\"")) continue;
        auto a = entry::ParseLegacyDeletion(text);
        if (!a.ok()) continue;
        attested_.emplace(std::make_pair(a->migration, a->batch),
                          bundle * log::kTileWidth + i);
      }
    }
    loaded_ = true;
    return absl::OkStatus();
  }

  absl::Mutex mu_;
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::pair<std::string, uint64_t>, uint64_t> attested_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace

void AddMigrationRoutes(Pipeline& pipe, server::Router& router) {
  auto e = std::make_shared<MigrationEndpoints>(pipe);
  using E = MigrationEndpoints;
  router.Handle("POST", "/v1/migrations/records",
                pipe.Blocking(Bind(e, &E::WriteRecords)));
  router.Handle("POST", "/v1/migrations/records/verify",
                pipe.Blocking(Bind(e, &E::VerifyRecords)));
  router.Handle("POST", "/v1/migrations/deletions",
                pipe.Blocking(Bind(e, &E::AttestDeletion)));
}

}  // namespace clover::gateway
