#include "migrate/runner.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/canonical_json.h"
#include "crypto/sha256.h"
#include "gateway/http_client.h"
#include "rapidjson/document.h"
#include "vault/field_format.h"
#include "vault/record.h"
#include "vault/record_hash.h"
#include "vault/subject_id.h"

namespace clover::migrate {
namespace {

constexpr size_t kMaxReportedErrors = 20;

// A record ready to send: its request item and its canonical hash.
struct Prepared {
  std::string key;
  std::string subject;
  std::string json;  // {"id":…,"country":…,"fields":{…}}
  std::string hash;
};

// What a row is: a record of a home region, or why it is not.
struct Classified {
  std::string region;      // "" when not migrated
  std::string quarantine;  // reason, when not migrated
  std::string error;       // mapping error message
  Prepared record;
};

Classified Classify(const Deployment& d, const LegacyMapping& m,
                    const Row& row) {
  Classified c;
  c.record.key = row.key();
  const std::optional<std::string>& country = row.values[1];
  if (!country.has_value() || absl::StripAsciiWhitespace(*country).empty()) {
    c.quarantine = "missing_country";
    return c;
  }
  const std::string cc =
      absl::AsciiStrToUpper(absl::StripAsciiWhitespace(*country));
  const Jurisdiction* j = d.JurisdictionOfCountry(cc);
  if (j == nullptr) {
    c.quarantine = "unknown_country";
    return c;
  }
  const Region* region = d.HomeRegionOfJurisdiction(j->id);
  if (region == nullptr) {
    c.quarantine = absl::StrCat("no_home_region:", j->id);
    return c;
  }
  const std::optional<std::string>& sv = row.values[m.subject_column];
  if (!sv.has_value()) {
    c.error = absl::StrCat("column '", m.columns[m.subject_column],
                           "': no subject id");
    return c;
  }
  c.record.subject = absl::StrCat(m.subject_prefix, *sv);
  if (absl::Status s = vault::ValidateSubjectId(c.record.subject); !s.ok()) {
    c.error = absl::StrCat("subject id: ", s.message());
    return c;
  }
  vault::Record record;
  record.country = cc;
  for (const FieldMapping& f : m.fields) {
    const std::optional<std::string>& v = row.values[f.column];
    if (!v.has_value() || v->empty()) continue;
    vault::FieldValue fv;
    fv.name = f.field->name;
    if (f.field->format == FieldFormat::kTextList) {
      fv.is_list = true;
      if (!v->empty() && v->front() == '[') {
        rapidjson::Document doc;
        doc.Parse(v->data(), v->size());
        if (doc.HasParseError() || !doc.IsArray()) {
          c.error = absl::StrCat("field '", fv.name,
                                 "': not a JSON array of strings");
          return c;
        }
        for (const auto& item : doc.GetArray()) {
          if (!item.IsString()) {
            c.error = absl::StrCat("field '", fv.name,
                                   "': not a JSON array of strings");
            return c;
          }
          fv.items.emplace_back(item.GetString(), item.GetStringLength());
        }
      } else {
        for (absl::string_view item :
             absl::StrSplit(*v, f.list_separator, absl::SkipEmpty())) {
          fv.items.emplace_back(item);
        }
      }
      if (fv.items.size() > vault::kMaxListItems) {
        c.error = absl::StrCat("field '", fv.name, "': more than ",
                               vault::kMaxListItems, " items");
        return c;
      }
      for (const std::string& item : fv.items) {
        if (absl::Status s =
                vault::ValidateFieldValue(fv.name, FieldFormat::kText, item);
            !s.ok()) {
          c.error = std::string(s.message());
          return c;
        }
      }
    } else {
      fv.value = *v;
      if (absl::Status s =
              vault::ValidateFieldValue(fv.name, f.field->format, fv.value);
          !s.ok()) {
        c.error = std::string(s.message());
        return c;
      }
    }
    record.fields.push_back(std::move(fv));
  }
  std::string& json = c.record.json;
  json = "{\"id\":";
  AppendJsonString(c.record.subject, &json);
  absl::StrAppend(&json, ",\"country\":\"", cc, "\",\"fields\":{");
  for (size_t i = 0; i < record.fields.size(); ++i) {
    const vault::FieldValue& fv = record.fields[i];
    if (i > 0) json.push_back(',');
    AppendJsonString(fv.name, &json);
    json.push_back(':');
    if (fv.is_list) {
      json.push_back('[');
      for (size_t k = 0; k < fv.items.size(); ++k) {
        if (k > 0) json.push_back(',');
        AppendJsonString(fv.items[k], &json);
      }
      json.push_back(']');
    } else {
      AppendJsonString(fv.value, &json);
    }
  }
  json.append("}}");
  c.record.hash = vault::CanonicalRecordHash(std::move(record));
  c.region = region->id;
  return c;
}

enum class Phase { kPlanned, kWritten, kVerified, kDeleted, kAttested };

absl::string_view PhaseName(Phase p) {
  switch (p) {
    case Phase::kPlanned:
      return "planned";
    case Phase::kWritten:
      return "written";
    case Phase::kVerified:
      return "verified";
    case Phase::kDeleted:
      return "deleted";
    case Phase::kAttested:
      return "attested";
  }
  return "";
}

std::optional<Phase> PhaseOf(absl::string_view s) {
  for (Phase p : {Phase::kPlanned, Phase::kWritten, Phase::kVerified,
                  Phase::kDeleted, Phase::kAttested}) {
    if (PhaseName(p) == s) return p;
  }
  return std::nullopt;
}

struct Batch {
  uint64_t number = 0;
  std::string region;
  Phase phase = Phase::kPlanned;
  std::vector<std::string> keys;
  std::vector<std::string> subjects;
  std::vector<uint64_t> write_indexes;
  std::vector<Prepared> records;  // when known (fresh, or refetched)
};

std::string JsonStrings(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(v[i], &out);
  }
  out.push_back(']');
  return out;
}

// The journal: one JSON object per line, each written with one write(2) and
// fdatasync'd before the phase it records is relied on. A torn last line (a
// kill during the write) is ignored on reading: its phase is done again.
class Journal {
 public:
  static absl::StatusOr<std::unique_ptr<Journal>> Open(
      const std::string& path, const std::string& migration,
      const std::string& source, std::map<uint64_t, Batch>& batches) {
    auto j = std::unique_ptr<Journal>(new Journal);
    j->path_ = path;
    std::ifstream in(path);
    bool header = false;
    if (in) {
      std::string line;
      uint64_t n = 0;
      while (std::getline(in, line)) {
        ++n;
        if (in.eof()) break;  // no newline: torn
        rapidjson::Document d;
        d.Parse(line.data(), line.size());
        if (d.HasParseError() || !d.IsObject()) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ":", n, ": not a journal line"));
        }
        if (!header) {
          if (!d.HasMember("migration") || !d["migration"].IsString() ||
              d["migration"].GetString() != migration ||
              !d.HasMember("source") || !d["source"].IsString() ||
              d["source"].GetString() != source) {
            return absl::InvalidArgumentError(absl::StrCat(
                path, ":1: the journal of another migration or source"));
          }
          header = true;
          continue;
        }
        if (absl::Status s = j->Apply(d, batches); !s.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ":", n, ": ", s.message()));
        }
      }
    }
    j->fd_ =
        open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (j->fd_ < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": cannot open the journal"));
    }
    // Cut a torn tail so that the next line starts on a line of its own.
    {
      std::ifstream again(path, std::ios::binary);
      std::stringstream ss;
      ss << again.rdbuf();
      const std::string text = ss.str();
      const size_t keep =
          text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
      if (keep != text.size() && ftruncate(j->fd_, keep) != 0) {
        return absl::InternalError(absl::StrCat(path, ": cannot truncate"));
      }
      if (keep == 0) header = false;
    }
    if (!header) {
      std::string line =
          "{\"journal\":\"clover-legacy-migration/v1\",\"migration\":";
      AppendJsonString(migration, &line);
      line.append(",\"source\":");
      AppendJsonString(source, &line);
      line.append("}");
      if (absl::Status s = j->Append(line); !s.ok()) return s;
    }
    return j;
  }
  ~Journal() {
    if (fd_ >= 0) close(fd_);
  }

  absl::Status Record(const Batch& b) {
    std::string line = absl::StrCat("{\"batch\":", b.number, ",\"phase\":\"",
                                    PhaseName(b.phase), "\"");
    if (b.phase == Phase::kPlanned) {
      line.append(",\"region\":");
      AppendJsonString(b.region, &line);
      absl::StrAppend(&line, ",\"keys\":", JsonStrings(b.keys),
                      ",\"subjects\":", JsonStrings(b.subjects));
    } else if (b.phase == Phase::kWritten) {
      absl::StrAppend(&line, ",\"write_indexes\":[",
                      absl::StrJoin(b.write_indexes, ","), "]");
    } else if (b.phase == Phase::kAttested) {
      absl::StrAppend(&line, ",\"log_index\":", attestation_);
    }
    line.push_back('}');
    return Append(line);
  }
  uint64_t attestation_ = 0;  // set before Record(kAttested)

 private:
  absl::Status Apply(const rapidjson::Document& d,
                     std::map<uint64_t, Batch>& batches) {
    if (!d.HasMember("batch") || !d["batch"].IsUint64() ||
        !d.HasMember("phase") || !d["phase"].IsString()) {
      return absl::InvalidArgumentError("a line without batch and phase");
    }
    std::optional<Phase> phase = PhaseOf(d["phase"].GetString());
    if (!phase) return absl::InvalidArgumentError("an unknown phase");
    const uint64_t n = d["batch"].GetUint64();
    if (*phase == Phase::kPlanned) {
      Batch& b = batches[n];
      b.number = n;
      b.phase = Phase::kPlanned;
      if (!d.HasMember("region") || !d["region"].IsString() ||
          !d.HasMember("keys") || !d["keys"].IsArray() ||
          !d.HasMember("subjects") || !d["subjects"].IsArray() ||
          d["keys"].Size() != d["subjects"].Size()) {
        return absl::InvalidArgumentError("a planned batch without its keys");
      }
      b.region = d["region"].GetString();
      for (const auto& k : d["keys"].GetArray())
        b.keys.push_back(k.GetString());
      for (const auto& k : d["subjects"].GetArray()) {
        b.subjects.push_back(k.GetString());
      }
      return absl::OkStatus();
    }
    auto it = batches.find(n);
    if (it == batches.end()) {
      return absl::InvalidArgumentError("a phase of an unplanned batch");
    }
    it->second.phase = std::max(it->second.phase, *phase);
    if (*phase == Phase::kWritten) {
      if (!d.HasMember("write_indexes") || !d["write_indexes"].IsArray()) {
        return absl::InvalidArgumentError("written without write_indexes");
      }
      it->second.write_indexes.clear();
      for (const auto& w : d["write_indexes"].GetArray()) {
        it->second.write_indexes.push_back(w.GetUint64());
      }
    }
    return absl::OkStatus();
  }

  absl::Status Append(std::string line) {
    line.push_back('\n');
    std::lock_guard<std::mutex> lock(mu_);
    if (write(fd_, line.data(), line.size()) !=
            static_cast<ssize_t>(line.size()) ||
        fdatasync(fd_) != 0) {
      return absl::InternalError(absl::StrCat(path_, ": cannot write"));
    }
    return absl::OkStatus();
  }

  Journal() = default;
  std::string path_;
  int fd_ = -1;
  std::mutex mu_;
};

// Talks to one region's node as the migration principal.
class NodeClient {
 public:
  NodeClient(std::string endpoint, std::string api_key)
      : endpoint_(std::move(endpoint)),
        headers_{absl::StrCat("Authorization: Bearer ", api_key),
                 absl::StrCat("X-Clover-Purpose: ", kMigrationPurpose)},
        http_(absl::Seconds(120)) {}

  // POSTs `body` to `path`; retries transport errors and 503s a few times
  // (every call here is idempotent). Returns the parsed 2xx body.
  absl::StatusOr<rapidjson::Document> Post(const std::string& path,
                                           const std::string& body) {
    absl::Status last;
    for (int attempt = 0; attempt < 8; ++attempt) {
      if (attempt > 0) absl::SleepFor(absl::Milliseconds(100 << attempt));
      auto r = http_.Send("POST", endpoint_ + path, headers_, body);
      if (!r.ok()) {
        last = r.status();
        continue;
      }
      if (r->status == 503 || r->status == 429) {
        last = absl::UnavailableError(absl::StrCat(path, ": ", r->status));
        continue;
      }
      if (r->status / 100 != 2) {
        return absl::FailedPreconditionError(
            absl::StrCat(endpoint_, path, ": HTTP ", r->status, " ", r->body));
      }
      rapidjson::Document d;
      d.Parse(r->body.data(), r->body.size());
      if (d.HasParseError() || !d.IsObject()) {
        return absl::InternalError(absl::StrCat(path, ": not a JSON answer"));
      }
      return d;
    }
    return absl::UnavailableError(
        absl::StrCat(endpoint_, path, ": ", last.message()));
  }

 private:
  std::string endpoint_;
  std::vector<std::string> headers_;
  gateway::HttpClient http_;
};

// The per-item results of a batch endpoint, checked: every item 2xx.
absl::StatusOr<std::vector<const rapidjson::Value*>> Results(
    const rapidjson::Document& d, size_t n, uint64_t batch,
    const std::vector<std::string>& keys) {
  if (!d.HasMember("results") || !d["results"].IsArray() ||
      d["results"].Size() != n) {
    return absl::InternalError(
        absl::StrCat("batch ", batch, ": the node answered no results"));
  }
  std::vector<const rapidjson::Value*> out;
  for (rapidjson::SizeType i = 0; i < n; ++i) {
    const rapidjson::Value& r = d["results"][i];
    if (!r.IsObject() || !r.HasMember("status") || !r["status"].IsInt() ||
        r["status"].GetInt() / 100 != 2) {
      std::string why = "no status";
      if (r.IsObject() && r.HasMember("error") && r["error"].IsObject() &&
          r["error"].HasMember("message") && r["error"]["message"].IsString()) {
        why = r["error"]["message"].GetString();
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "batch ", batch, ", source row ", keys[i], ": the node refused (",
          r.IsObject() && r.HasMember("status") && r["status"].IsInt()
              ? r["status"].GetInt()
              : 0,
          "): ", why));
    }
    out.push_back(&r);
  }
  return out;
}

class Runner {
 public:
  Runner(const Deployment& d, const LegacyMapping& m, LegacySource& src,
         const RunOptions& o)
      : d_(d), m_(m), src_(src), o_(o) {}

  absl::StatusOr<RunSummary> Run() {
    const absl::Time start = absl::Now();
    s_.source = src_.identity();
    s_.deletes = src_.deletes();
    s_.dry_run = o_.dry_run;
    if (m_.migration.empty()) {
      const crypto::Sha256Digest h = crypto::Sha256(src_.identity());
      s_.migration = absl::StrCat(
          "legacy-", absl::BytesToHexString(absl::string_view(
                         reinterpret_cast<const char*>(h.data()), 8)));
    } else {
      s_.migration = m_.migration;
    }
    if (o_.dry_run) {
      absl::Status st = src_.Scan([&](Row row) {
        Classified c = Classify(d_, m_, row);
        Count(c, row);
        if (!c.region.empty()) ++s_.records[c.region];
        return absl::OkStatus();
      });
      if (!st.ok()) return st;
      s_.seconds = absl::ToDoubleSeconds(absl::Now() - start);
      return s_;
    }
    for (const Region& r : d_.regions) {
      if (r.dcs.empty() || r.dcs.front().endpoint.empty()) continue;
      endpoints_[r.id] = r.dcs.front().endpoint;
    }
    s_.journal = o_.journal.empty()
                     ? absl::StrCat("clover-legacy-", s_.migration, ".journal")
                     : o_.journal;
    s_.quarantine_file = o_.quarantine.empty()
                             ? absl::StrCat(s_.journal, ".quarantine.ndjson")
                             : o_.quarantine;
    auto journal = Journal::Open(s_.journal, s_.migration, s_.source, batches_);
    if (!journal.ok()) return journal.status();
    journal_ = *std::move(journal);
    quarantine_.open(s_.quarantine_file, std::ios::trunc);
    if (!quarantine_) {
      return absl::InvalidArgumentError(absl::StrCat(
          s_.quarantine_file, ": cannot write the quarantine report"));
    }
    uint64_t next_batch = 0;
    std::vector<Batch*> unfinished;
    for (auto& [n, b] : batches_) {
      next_batch = std::max(next_batch, n + 1);
      for (const std::string& k : b.keys) journaled_.insert(k);
      if (Finished(b)) {
        s_.finished_total[b.region] += b.keys.size();
      } else {
        unfinished.push_back(&b);
      }
    }
    total_ = src_.Count();
    started_ = absl::Now();
    std::thread progress([this] { Progress(); });
    std::vector<std::thread> workers;
    for (int i = 0; i < std::max(1, o_.workers); ++i) {
      workers.emplace_back([this] { Work(); });
    }
    for (Batch* b : unfinished) Push(b);
    // New batches from the rows no batch holds.
    std::map<std::string, Batch> pending;
    absl::Status st = src_.Scan([&](Row row) {
      if (Failed()) return absl::CancelledError("stopped");
      if (journaled_.contains(row.key())) return absl::OkStatus();
      Classified c = Classify(d_, m_, row);
      Count(c, row);
      if (c.region.empty()) return absl::OkStatus();
      Batch& b = pending[c.region];
      b.region = c.region;
      b.keys.push_back(c.record.key);
      b.subjects.push_back(c.record.subject);
      b.records.push_back(std::move(c.record));
      if (b.keys.size() >= m_.batch_size) {
        if (absl::Status s = Plan(std::move(b), next_batch++); !s.ok())
          return s;
        b = Batch();
      }
      return absl::OkStatus();
    });
    if (st.ok()) {
      for (auto& [region, b] : pending) {
        if (b.keys.empty()) continue;
        if (st = Plan(std::move(b), next_batch++); !st.ok()) break;
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : workers) t.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_progress_ = true;
    }
    progress_cv_.notify_all();
    progress.join();
    quarantine_.close();
    if (!error_.ok()) return error_;
    if (!st.ok()) return st;
    s_.seconds = absl::ToDoubleSeconds(absl::Now() - start);
    uint64_t n = 0;
    for (const auto& [r, c] : s_.records) n += c;
    s_.records_per_second = s_.seconds > 0 ? n / s_.seconds : 0;
    return s_;
  }

 private:
  bool Finished(const Batch& b) const {
    return b.phase == Phase::kAttested ||
           (!src_.deletes() && b.phase >= Phase::kVerified);
  }

  void Count(const Classified& c, const Row& row) {
    if (!c.quarantine.empty() || !c.error.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!c.error.empty()) {
        ++s_.mapping_errors;
        if (s_.first_errors.size() < kMaxReportedErrors) {
          s_.first_errors.push_back({row.line, row.key(), c.error});
        }
      } else {
        ++s_.quarantined[c.quarantine];
      }
      if (quarantine_.is_open()) {
        std::string line = "{\"key\":";
        AppendJsonString(row.key(), &line);
        if (row.line > 0) absl::StrAppend(&line, ",\"line\":", row.line);
        line.append(",\"reason\":");
        AppendJsonString(c.error.empty() ? c.quarantine : "mapping_error",
                         &line);
        if (!c.error.empty()) {
          line.append(",\"message\":");
          AppendJsonString(c.error, &line);
        }
        line.append("}\n");
        quarantine_ << line;
      }
    }
  }

  absl::Status Plan(Batch b, uint64_t number) {
    b.number = number;
    b.phase = Phase::kPlanned;
    if (absl::Status s = journal_->Record(b); !s.ok()) return s;
    auto owned = std::make_unique<Batch>(std::move(b));
    Batch* raw = owned.get();
    {
      std::lock_guard<std::mutex> lock(mu_);
      fresh_.push_back(std::move(owned));
    }
    Push(raw);
    return absl::OkStatus();
  }

  // Hands `b` to a worker; waits while 2 batches per worker are queued, so
  // that a large source is not read into memory ahead of the nodes.
  void Push(Batch* b) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] {
      return queue_.size() < 2 * static_cast<size_t>(o_.workers) ||
             !error_.ok();
    });
    queue_.push_back(b);
    cv_.notify_all();
  }

  bool Failed() {
    std::lock_guard<std::mutex> lock(mu_);
    return !error_.ok();
  }

  void Work() {
    std::map<std::string, std::unique_ptr<NodeClient>> clients;
    while (true) {
      Batch* b = nullptr;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock,
                 [&] { return !queue_.empty() || closed_ || !error_.ok(); });
        if (!error_.ok() || queue_.empty()) return;
        b = queue_.front();
        queue_.pop_front();
        cv_.notify_all();
      }
      auto it = clients.find(b->region);
      if (it == clients.end()) {
        auto e = endpoints_.find(b->region);
        if (e == endpoints_.end()) {
          Fail(absl::FailedPreconditionError(absl::StrCat(
              "region ", b->region, ": no node endpoint in the deployment")));
          return;
        }
        it = clients
                 .emplace(b->region,
                          std::make_unique<NodeClient>(e->second, o_.api_key))
                 .first;
      }
      absl::Status s = Drive(*b, *it->second);
      if (!s.ok()) {
        Fail(s);
        return;
      }
      std::lock_guard<std::mutex> lock(mu_);
      s_.records[b->region] += b->keys.size();
      s_.finished_total[b->region] += b->keys.size();
      ++s_.batches;
      b->records.clear();
      b->records.shrink_to_fit();
    }
  }

  void Fail(absl::Status s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (error_.ok()) error_ = std::move(s);
    }
    cv_.notify_all();
  }

  // The batch's records rebuilt from the source (a resumed batch).
  absl::Status Refetch(Batch& b) {
    auto rows = src_.Fetch(b.keys);
    if (!rows.ok()) return rows.status();
    std::map<std::string, Prepared> by_key;
    for (const Row& row : *rows) {
      Classified c = Classify(d_, m_, row);
      if (c.region != b.region) {
        return absl::FailedPreconditionError(
            absl::StrCat("batch ", b.number, ", source row ", row.key(),
                         ": changed at the source since it was planned"));
      }
      by_key[c.record.key] = std::move(c.record);
    }
    b.records.clear();
    for (const std::string& k : b.keys) {
      auto it = by_key.find(k);
      if (it == by_key.end()) {
        return absl::FailedPreconditionError(
            absl::StrCat("batch ", b.number, ", source row ", k,
                         ": gone from the source before it was verified"));
      }
      b.records.push_back(std::move(it->second));
    }
    return absl::OkStatus();
  }

  absl::Status Drive(Batch& b, NodeClient& node) {
    if (b.phase < Phase::kVerified && b.records.empty()) {
      if (absl::Status s = Refetch(b); !s.ok()) return s;
    }
    if (b.phase == Phase::kPlanned) {
      std::string body = "{\"records\":[";
      for (size_t i = 0; i < b.records.size(); ++i) {
        if (i > 0) body.push_back(',');
        body.append(b.records[i].json);
      }
      body.append("]}");
      auto d = node.Post("/v1/migrations/records", body);
      if (!d.ok()) return d.status();
      auto results = Results(*d, b.keys.size(), b.number, b.keys);
      if (!results.ok()) return results.status();
      b.write_indexes.clear();
      for (const rapidjson::Value* r : *results) {
        if (!r->HasMember("log_index") || !(*r)["log_index"].IsUint64()) {
          return absl::InternalError("a write without its log index");
        }
        b.write_indexes.push_back((*r)["log_index"].GetUint64());
      }
      b.phase = Phase::kWritten;
      if (absl::Status s = journal_->Record(b); !s.ok()) return s;
    }
    if (b.phase == Phase::kWritten) {
      auto d = node.Post(
          "/v1/migrations/records/verify",
          absl::StrCat("{\"subjects\":", JsonStrings(b.subjects), "}"));
      if (!d.ok()) return d.status();
      auto results = Results(*d, b.keys.size(), b.number, b.keys);
      if (!results.ok()) return results.status();
      for (size_t i = 0; i < results->size(); ++i) {
        const rapidjson::Value& r = *(*results)[i];
        if (!r.HasMember("sha256") || !r["sha256"].IsString() ||
            b.records[i].hash != r["sha256"].GetString()) {
          return absl::DataLossError(absl::StrCat(
              "batch ", b.number, ", source row ", b.keys[i],
              ": the record read back from region ", b.region,
              " differs from the source row; nothing of this batch is "
              "deleted"));
        }
      }
      b.phase = Phase::kVerified;
      if (absl::Status s = journal_->Record(b); !s.ok()) return s;
    }
    if (!src_.deletes()) return absl::OkStatus();
    if (b.phase == Phase::kVerified) {
      auto n = src_.Delete(b.keys);
      if (!n.ok()) return n.status();
      {
        std::lock_guard<std::mutex> lock(mu_);
        s_.deleted += *n;
      }
      b.phase = Phase::kDeleted;
      if (absl::Status s = journal_->Record(b); !s.ok()) return s;
    }
    if (b.phase == Phase::kDeleted) {
      if (b.write_indexes.size() != b.keys.size()) {
        return absl::InternalError(absl::StrCat(
            "batch ", b.number, ": the journal lacks its write indexes"));
      }
      std::string body = "{\"migration\":";
      AppendJsonString(s_.migration, &body);
      body.append(",\"source\":");
      AppendJsonString(s_.source, &body);
      absl::StrAppend(&body, ",\"batch\":", b.number,
                      ",\"subjects\":", JsonStrings(b.subjects),
                      ",\"keys\":", JsonStrings(b.keys), ",\"write_indexes\":[",
                      absl::StrJoin(b.write_indexes, ","), "]}");
      auto d = node.Post("/v1/migrations/deletions", body);
      if (!d.ok()) return d.status();
      if (!d->HasMember("log_index") || !(*d)["log_index"].IsUint64()) {
        return absl::InternalError("an attestation without its log index");
      }
      const uint64_t index = (*d)["log_index"].GetUint64();
      b.phase = Phase::kAttested;
      {
        std::lock_guard<std::mutex> lock(mu_);
        journal_->attestation_ = index;
        s_.attestations.push_back(index);
        if (absl::Status s = journal_->Record(b); !s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  std::string ProgressLine() {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t done = 0;
    for (const auto& [r, c] : s_.records) done += c;
    uint64_t quarantined = s_.mapping_errors;
    for (const auto& [r, c] : s_.quarantined) quarantined += c;
    const double secs = absl::ToDoubleSeconds(absl::Now() - started_);
    const double rate = secs > 0 ? done / secs : 0;
    std::string line = absl::StrFormat("%.0f records/s", rate);
    for (const auto& [r, c] : s_.records)
      absl::StrAppend(&line, " ", r, "=", c);
    absl::StrAppend(&line, " quarantined=", quarantined);
    if (total_ > 0 && rate > 0) {
      uint64_t alive = 0;
      for (const auto& [r, c] : s_.finished_total) alive += c;
      const double left = static_cast<double>(total_) -
                          static_cast<double>(done) -
                          static_cast<double>(quarantined);
      const double pct =
          100.0 * std::min(1.0, (static_cast<double>(done) + quarantined) /
                                    static_cast<double>(total_));
      const int filled = static_cast<int>(pct / 5);
      line = absl::StrCat(
          "[", std::string(filled, '#'), std::string(20 - filled, '.'), "] ",
          absl::StrFormat("%3.0f%% ", pct), line,
          absl::StrFormat(" ETA %.0fs", std::max(0.0, left) / rate));
      (void)alive;
    }
    return line;
  }

  void Progress() {
    if (o_.quiet) return;
    const bool tty = isatty(2) != 0;
    const auto period = std::chrono::milliseconds(
        tty ? 500 : static_cast<int>(o_.progress_seconds * 1000));
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_progress_) {
      progress_cv_.wait_for(lock, period);
      if (stop_progress_) break;
      lock.unlock();
      const std::string line = ProgressLine();
      if (tty) {
        std::cerr << "\r\033[K" << line << std::flush;
      } else {
        std::cerr << "clover migrate legacy: " << line << "\n";
      }
      lock.lock();
    }
    if (tty) std::cerr << "\r\033[K" << std::flush;
  }

  const Deployment& d_;
  const LegacyMapping& m_;
  LegacySource& src_;
  const RunOptions& o_;
  RunSummary s_;
  std::map<std::string, std::string> endpoints_;
  std::map<uint64_t, Batch> batches_;
  std::unordered_set<std::string> journaled_;
  std::unique_ptr<Journal> journal_;
  std::ofstream quarantine_;
  uint64_t total_ = 0;
  absl::Time started_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable progress_cv_;
  std::deque<Batch*> queue_;
  std::vector<std::unique_ptr<Batch>> fresh_;
  bool closed_ = false;
  bool stop_progress_ = false;
  absl::Status error_;
};

}  // namespace

absl::StatusOr<RunSummary> RunLegacyMigration(const Deployment& deployment,
                                              const LegacyMapping& mapping,
                                              LegacySource& source,
                                              const RunOptions& options) {
  return Runner(deployment, mapping, source, options).Run();
}

std::string SummaryText(const RunSummary& s) {
  std::string out = absl::StrCat(s.dry_run ? "plan" : "migration", " ",
                                 s.migration, " from ", s.source, "\n");
  uint64_t total = 0;
  for (const auto& [r, c] : s.records) {
    absl::StrAppend(&out, "  ", r, ": ", c,
                    s.dry_run ? " records to migrate" : " records migrated",
                    "\n");
    total += c;
  }
  if (s.records.empty()) {
    absl::StrAppend(&out, s.dry_run ? "  no records to migrate\n"
                                    : "  no records migrated in this run\n");
  }
  uint64_t q = 0;
  for (const auto& [r, c] : s.quarantined) q += c;
  absl::StrAppend(
      &out, "  no home region (quarantined, left at the source): ", q, "\n");
  for (const auto& [r, c] : s.quarantined) {
    absl::StrAppend(&out, "    ", r, ": ", c, "\n");
  }
  absl::StrAppend(&out, "  mapping errors (quarantined, left at the source): ",
                  s.mapping_errors, "\n");
  for (const MappingError& e : s.first_errors) {
    absl::StrAppend(&out, "    ",
                    e.line > 0 ? absl::StrCat("line ", e.line, ", ") : "",
                    "row ", e.key, ": ", e.message, "\n");
  }
  if (!s.dry_run) {
    absl::StrAppend(&out, "  batches finished: ", s.batches,
                    "; source rows deleted: ", s.deleted,
                    "; deletion attestations: ", s.attestations.size(), "\n");
    if (!s.deletes) {
      absl::StrAppend(&out,
                      "  the source is a dump: nothing was deleted and no "
                      "deletion is attested (see the quarantine report for "
                      "the rows not migrated)\n");
    }
    absl::StrAppend(&out, "  ", total, " records in ",
                    absl::StrFormat("%.1f", s.seconds), " s (",
                    absl::StrFormat("%.0f", s.records_per_second),
                    " records/s)\n  journal: ", s.journal,
                    "\n  quarantine report: ", s.quarantine_file, "\n");
  }
  return out;
}

std::string SummaryJson(const RunSummary& s) {
  std::string out = "{\"migration\":";
  AppendJsonString(s.migration, &out);
  out.append(",\"source\":");
  AppendJsonString(s.source, &out);
  absl::StrAppend(&out, ",\"dry_run\":", s.dry_run ? "true" : "false",
                  ",\"deletes\":", s.deletes ? "true" : "false",
                  ",\"records\":{");
  bool first = true;
  for (const auto& [r, c] : s.records) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(r, &out);
    absl::StrAppend(&out, ":", c);
  }
  out.append("},\"migrated_total\":{");
  first = true;
  for (const auto& [r, c] : s.finished_total) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(r, &out);
    absl::StrAppend(&out, ":", c);
  }
  out.append("},\"quarantined\":{");
  first = true;
  for (const auto& [r, c] : s.quarantined) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(r, &out);
    absl::StrAppend(&out, ":", c);
  }
  absl::StrAppend(&out, "},\"mapping_errors\":", s.mapping_errors,
                  ",\"errors\":[");
  for (size_t i = 0; i < s.first_errors.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append("{\"key\":");
    AppendJsonString(s.first_errors[i].key, &out);
    absl::StrAppend(&out, ",\"line\":", s.first_errors[i].line,
                    ",\"message\":");
    AppendJsonString(s.first_errors[i].message, &out);
    out.push_back('}');
  }
  absl::StrAppend(
      &out, "],\"batches\":", s.batches, ",\"deleted\":", s.deleted,
      ",\"attestations\":[", absl::StrJoin(s.attestations, ","),
      "],\"seconds\":", absl::StrFormat("%.3f", s.seconds),
      ",\"records_per_second\":", absl::StrFormat("%.1f", s.records_per_second),
      ",\"journal\":");
  AppendJsonString(s.journal, &out);
  out.append(",\"quarantine_file\":");
  AppendJsonString(s.quarantine_file, &out);
  out.append("}\n");
  return out;
}

}  // namespace clover::migrate
