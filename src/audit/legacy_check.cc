#include "audit/legacy_check.h"

#include <libpq-fe.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/canonical_json.h"
#include "core/rfc3339.h"
#include "entry/log_entry.h"
#include "spdlog/spdlog.h"

namespace clover::audit {
namespace {

constexpr absl::string_view kStatePrefix = "legacycheck/";
constexpr absl::string_view kSourcePrefix = "legacycheck-source/";

std::string SourceReadKey(absl::string_view source) {
  return absl::StrCat(kSourcePrefix, source);
}

bool PlainPart(absl::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!absl::ascii_isalpha(s[0]) && s[0] != '_') return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

std::string QuoteQualified(absl::string_view ident) {
  std::string out;
  for (absl::string_view part : absl::StrSplit(ident, '.')) {
    if (!out.empty()) out.push_back('.');
    absl::StrAppend(&out, "\"", part, "\"");
  }
  return out;
}

struct PgConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgConn = std::unique_ptr<PGconn, PgConnDeleter>;
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

// The server's primary message (never the DSN).
std::string PgError(PGconn* c, const PGresult* r) {
  const char* primary =
      r != nullptr ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string m = primary != nullptr ? primary : PQerrorMessage(c);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

bool IsLowerHex64(absl::string_view h) {
  if (h.size() != 64) return false;
  for (char c : h) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string OneLine(absl::string_view s) {
  return absl::StrReplaceAll(s, {{"\n", " "}, {"\r", " "}});
}

}  // namespace

bool IsPlainSqlIdentifier(absl::string_view ident, bool dotted) {
  std::vector<absl::string_view> parts = absl::StrSplit(ident, '.');
  if (parts.size() > (dotted ? 2u : 1u)) return false;
  for (absl::string_view p : parts) {
    if (!PlainPart(p)) return false;
  }
  return true;
}

absl::Status ReadPostgresSourceKeys(
    const MigrationSource& source,
    const std::function<void(absl::string_view key)>& each) {
  if (!IsPlainSqlIdentifier(source.table, true) ||
      !IsPlainSqlIdentifier(source.key_column, false)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "migration source '", source.source, "': bad table or key column"));
  }
  const char* keys[] = {"connect_timeout", "fallback_application_name",
                        "dbname", nullptr};
  const char* values[] = {"10", "clover-auditor", source.dsn.c_str(), nullptr};
  PgConn conn(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  const auto fail = [&](const PGresult* r, absl::string_view what) {
    return absl::UnavailableError(absl::StrCat("migration source '",
                                               source.source, "': ", what, ": ",
                                               PgError(conn.get(), r)));
  };
  if (conn == nullptr) return absl::ResourceExhaustedError("out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) return fail(nullptr, "connect");
  // Read-only whatever the role may do: the auditor never changes a source.
  PgResult begin(PQexec(conn.get(), "BEGIN TRANSACTION READ ONLY"));
  if (PQresultStatus(begin.get()) != PGRES_COMMAND_OK)
    return fail(begin.get(), "begin");
  const std::string sql =
      absl::StrCat("SELECT ", QuoteQualified(source.key_column), "::text FROM ",
                   QuoteQualified(source.table));
  if (PQsendQuery(conn.get(), sql.c_str()) != 1) return fail(nullptr, "query");
  // Row by row: a legacy table may hold millions of rows.
  (void)PQsetSingleRowMode(conn.get());
  absl::Status status;
  while (PgResult r{PQgetResult(conn.get())}) {
    const ExecStatusType st = PQresultStatus(r.get());
    if (st == PGRES_SINGLE_TUPLE) {
      if (!PQgetisnull(r.get(), 0, 0)) {
        each(
            absl::string_view(PQgetvalue(r.get(), 0, 0),
                              static_cast<size_t>(PQgetlength(r.get(), 0, 0))));
      }
    } else if (st != PGRES_TUPLES_OK && status.ok()) {
      status = fail(r.get(), "read");
    }
  }
  PgResult end(PQexec(conn.get(), "COMMIT"));
  return status;
}

LegacyCheck::LegacyCheck(LegacyCheckOptions options, SourceKeysFn read_keys)
    : options_(std::move(options)),
      read_keys_(read_keys ? std::move(read_keys) : ReadPostgresSourceKeys) {}

std::string LegacyCheck::Key(absl::string_view origin, uint64_t index) {
  return absl::StrCat(kStatePrefix, origin, "/",
                      absl::StrFormat("%020d", index));
}

// Lines: "legacy-check 1", "origin <origin>", "index <n>", "seen <unix µs>",
// "writes pending|ok|bad", "source unchecked|gone|present <n>",
// "checked <unix µs>" (when checked), "why <text>" (when the writes failed),
// and last "entry <the attestation as logged>" (to the end of the value).
std::string LegacyCheck::Encode(const Attestation& t) {
  std::string out =
      absl::StrCat("legacy-check 1\norigin ", OneLine(t.origin), "\nindex ",
                   t.index, "\nseen ", absl::ToUnixMicros(t.seen), "\nwrites ",
                   t.writes == Writes::kPending ? "pending"
                   : t.writes == Writes::kOk    ? "ok"
                                                : "bad",
                   "\nsource ",
                   t.at_source == AtSource::kUnchecked ? "unchecked"
                   : t.at_source == AtSource::kGone    ? "gone"
                                                       : "present",
                   " ", t.present, "\n");
  if (t.checked != absl::InfinitePast())
    absl::StrAppend(&out, "checked ", absl::ToUnixMicros(t.checked), "\n");
  if (!t.why.empty()) absl::StrAppend(&out, "why ", OneLine(t.why), "\n");
  absl::StrAppend(&out, "entry ", t.raw);
  return out;
}

absl::StatusOr<LegacyCheck::Attestation> LegacyCheck::Decode(
    absl::string_view key, absl::string_view value) {
  const auto bad = [&](absl::string_view line) {
    return absl::DataLossError(
        absl::StrCat("legacy-check state '", key, "': bad line '", line, "'"));
  };
  Attestation t;
  const size_t entry = value.find("\nentry ");
  if (entry == absl::string_view::npos) return bad("(no entry)");
  t.raw = std::string(value.substr(entry + 7));
  absl::StatusOr<entry::LegacyDeletion> a = entry::ParseLegacyDeletion(t.raw);
  if (!a.ok()) return bad("entry");
  t.a = *std::move(a);
  bool header = false, have_origin = false, have_index = false;
  for (absl::string_view line :
       absl::StrSplit(value.substr(0, entry), '\n', absl::SkipEmpty())) {
    const size_t sp = line.find(' ');
    const absl::string_view tag = line.substr(0, sp);
    const absl::string_view rest =
        sp == absl::string_view::npos ? "" : line.substr(sp + 1);
    int64_t micros;
    if (!header) {
      if (line != "legacy-check 1") return bad(line);
      header = true;
    } else if (tag == "origin" && !rest.empty()) {
      t.origin = std::string(rest);
      have_origin = true;
    } else if (tag == "index" && absl::SimpleAtoi(rest, &t.index)) {
      have_index = true;
    } else if (tag == "seen" && absl::SimpleAtoi(rest, &micros)) {
      t.seen = absl::FromUnixMicros(micros);
    } else if (tag == "checked" && absl::SimpleAtoi(rest, &micros)) {
      t.checked = absl::FromUnixMicros(micros);
    } else if (tag == "why") {
      t.why = std::string(rest);
    } else if (tag == "writes" &&
               (rest == "pending" || rest == "ok" || rest == "bad")) {
      t.writes = rest == "pending" ? Writes::kPending
                 : rest == "ok"    ? Writes::kOk
                                   : Writes::kBad;
    } else if (tag == "source") {
      std::vector<absl::string_view> f = absl::StrSplit(rest, ' ');
      if (f.size() != 2 || !absl::SimpleAtoi(f[1], &t.present) ||
          (f[0] != "unchecked" && f[0] != "gone" && f[0] != "present")) {
        return bad(line);
      }
      t.at_source = f[0] == "unchecked" ? AtSource::kUnchecked
                    : f[0] == "gone"    ? AtSource::kGone
                                        : AtSource::kPresent;
    } else {
      return bad(line);
    }
  }
  if (!header || !have_origin || !have_index) return bad("(incomplete)");
  return t;
}

void LegacyCheck::Adopt(Attestation t) {
  batches_[t.origin].insert({t.a.migration, t.a.batch});
  if (t.writes == Writes::kOk) {
    auto& claimed = claimed_[t.origin];
    for (uint64_t i : t.a.write_indexes) claimed.insert(i);
  }
  std::pair<std::string, uint64_t> k{t.origin, t.index};
  all_[std::move(k)] = std::move(t);
}

absl::Status LegacyCheck::Load(const kv::KvStore& kv) {
  absl::Status bad;
  absl::Status s =
      kv.Scan(kStatePrefix, [&](absl::string_view k, absl::string_view v) {
        absl::StatusOr<Attestation> t = Decode(k, v);
        if (!t.ok()) {
          bad = t.status();
          return false;
        }
        Adopt(*std::move(t));
        return true;
      });
  if (!s.ok()) return s;
  return bad;
}

LegacyCheck::Found LegacyCheck::Make(const Attestation& t,
                                     std::string key_suffix, std::string why,
                                     absl::Time when) const {
  Found f;
  f.finding.detector = std::string(kDetectorDeletionUnverified);
  f.finding.severity = Severity::kHigh;
  f.finding.key = absl::StrCat(kDetectorDeletionUnverified, "/", t.origin, "/",
                               t.a.migration, "/", t.a.batch, "/", key_suffix);
  f.finding.summary =
      absl::StrCat("node '", t.a.node, "' (log '", t.origin, "'), entry ",
                   t.index, ": the deletion attestation of migration '",
                   t.a.migration, "' batch ", t.a.batch, " (", t.a.records,
                   " records from '", t.a.source, "') is not verified: ", why);
  f.finding.time = when;
  f.finding.origin = t.origin;
  f.finding.indices.push_back(t.index);
  f.entries[t.index] = t.raw;
  return f;
}

void LegacyCheck::Observe(absl::string_view origin, uint64_t index,
                          const std::string& raw, absl::Time now,
                          kv::KvBatch& batch, std::vector<Found>* out) {
  absl::StatusOr<entry::LegacyDeletion> a = entry::ParseLegacyDeletion(raw);
  if (a.ok()) {
    // A hash that is not one LegacyKeyHash gives matches no row: the rows it
    // stands for could never be found at the source.
    for (const std::string& h : a->key_hashes) {
      if (!IsLowerHex64(h)) {
        a = absl::InvalidArgumentError(
            "legacy_deletion entry: member 'key_hashes' must hold SHA-256 "
            "hashes (64 lowercase hex digits)");
        break;
      }
    }
  }
  if (!a.ok()) {
    Found f;
    f.finding.detector = std::string(kDetectorDeletionUnverified);
    f.finding.severity = Severity::kHigh;
    f.finding.key = absl::StrCat(kDetectorDeletionUnverified, "/", origin,
                                 "/malformed/", index);
    f.finding.summary =
        absl::StrCat("log '", origin, "' entry ", index,
                     ": a deletion attestation that cannot be verified: ",
                     a.status().message());
    f.finding.time = now;
    f.finding.origin = std::string(origin);
    f.finding.indices.push_back(index);
    f.entries[index] = raw;
    out->push_back(std::move(f));
    return;
  }
  Attestation t;
  t.origin = std::string(origin);
  t.index = index;
  t.raw = raw;
  t.a = *std::move(a);
  t.seen = now;
  if (all_.count({t.origin, index}) != 0) return;  // fed again: known
  if (batches_[t.origin].count({t.a.migration, t.a.batch}) != 0) {
    // Not kept: the first attestation of the batch is the one checked.
    out->push_back(
        Make(t, absl::StrCat("duplicate/", index),
             "this (migration, batch) was already attested in this log", now));
    return;
  }
  batch.Put(Key(origin, index), Encode(t));
  Adopt(std::move(t));
}

void LegacyCheck::VerifyWrites(absl::string_view origin,
                               const EntryAt& entry_at, kv::KvStore& kv,
                               std::vector<Found>* out) {
  auto& claimed = claimed_[origin];
  entry::LogEntry e;
  for (auto it = all_.lower_bound({std::string(origin), 0});
       it != all_.end() && it->first.first == origin; ++it) {
    Attestation& t = it->second;
    if (t.writes != Writes::kPending) continue;
    std::string why;
    std::optional<uint64_t> bad_index;
    std::string bad_entry;
    std::vector<std::string> pseudonyms;
    bool unavailable = false;
    for (uint64_t i : t.a.write_indexes) {
      if (i >= t.index) {
        why = absl::StrCat("write index ", i, " is not before the attestation");
        break;
      }
      if (claimed.count(i) != 0) {
        why = absl::StrCat("write index ", i,
                           " is already claimed by another attestation");
        bad_index = i;
        break;
      }
      absl::StatusOr<std::string> raw = entry_at(i);
      if (!raw.ok()) {
        if (absl::IsOutOfRange(raw.status())) {
          why = absl::StrCat("write index ", i, " is beyond the log");
        } else {
          // Unreachable log, or one that now serves other bytes (the history
          // check reports that): tried again at the next poll.
          spdlog::warn("log '{}': reading write {} of attestation {}: {}",
                       std::string(origin), i, t.index,
                       raw.status().ToString());
          unavailable = true;
        }
        break;
      }
      absl::Status ps = entry::ParseLogEntry(*raw, &e);
      const entry::DecisionEntry& d = e.decision;
      if (!ps.ok() || e.type != entry::EntryType::kDecision) {
        why = absl::StrCat("entry ", i, " is not a write decision");
      } else if (d.action != "write") {
        why = absl::StrCat("entry ", i, " is a '", d.action,
                           "' decision, not a write");
      } else if (d.purpose != kMigrationPurpose) {
        why = absl::StrCat("entry ", i, " is a write for purpose '", d.purpose,
                           "', not '", kMigrationPurpose, "'");
      } else if (d.records == 0 || d.subject.empty()) {
        why =
            absl::StrCat("entry ", i, " is a refused write (it wrote nothing)");
      }
      if (!why.empty()) {
        bad_index = i;
        bad_entry = *std::move(raw);
        break;
      }
      pseudonyms.push_back(d.subject);
    }
    if (unavailable) continue;
    if (why.empty()) {
      if (pseudonyms.size() != t.a.records) {
        why = absl::StrCat(t.a.records, " records attested but ",
                           pseudonyms.size(), " migration writes");
      } else if (const std::string root =
                     entry::MigratedSubjectsRoot(pseudonyms);
                 root != t.a.subjects_root) {
        why = absl::StrCat("its subjects root ", t.a.subjects_root,
                           " differs from the root ", root,
                           " of the subjects its writes name");
      }
    }
    if (why.empty()) {
      t.writes = Writes::kOk;
      for (uint64_t i : t.a.write_indexes) claimed.insert(i);
    } else {
      t.writes = Writes::kBad;
      t.why = why;
      Found f = Make(t, "writes", why, t.seen);
      if (bad_index.has_value()) {
        f.finding.indices.push_back(*bad_index);
        if (!bad_entry.empty()) f.entries[*bad_index] = std::move(bad_entry);
      }
      out->push_back(std::move(f));
    }
    if (absl::Status s = kv.Put(Key(t.origin, t.index), Encode(t)); !s.ok()) {
      spdlog::warn("storing the legacy-deletion check failed: {}",
                   s.ToString());
    }
  }
}

void LegacyCheck::CheckSources(absl::Time now, bool force, kv::KvStore& kv,
                               std::vector<Found>* out) {
  const absl::Duration recheck_new =
      std::min(options_.interval, absl::Minutes(1));
  for (const MigrationSource& src : options_.sources) {
    std::vector<Attestation*> mine;
    bool fresh = false;
    for (auto& [k, t] : all_) {
      if (t.a.source != src.source) continue;
      mine.push_back(&t);
      fresh |= t.at_source == AtSource::kUnchecked;
    }
    if (mine.empty()) continue;
    auto last = last_read_.find(src.source);
    const bool due = force || last == last_read_.end() ||
                     now - last->second >= options_.interval ||
                     (fresh && now - last->second >= recheck_new);
    if (!due) continue;
    // Hash (raw bytes) -> the attestations naming it.
    absl::flat_hash_map<std::string, uint32_t> first;
    absl::flat_hash_map<std::string, std::vector<uint32_t>> more;
    for (uint32_t n = 0; n < mine.size(); ++n) {
      for (const std::string& h : mine[n]->a.key_hashes) {
        // The parser admits only 64-digit hex hashes.
        std::string bytes = absl::HexStringToBytes(h);
        auto [it, inserted] = first.try_emplace(bytes, n);
        if (!inserted) more[bytes].push_back(n);
      }
    }
    std::vector<uint64_t> present(mine.size(), 0);
    absl::Status s = read_keys_(src, [&](absl::string_view key) {
      const std::string bytes =
          absl::HexStringToBytes(entry::LegacyKeyHash(src.source, key));
      auto it = first.find(bytes);
      if (it == first.end()) return;
      ++present[it->second];
      if (auto m = more.find(bytes); m != more.end()) {
        for (uint32_t n : m->second) ++present[n];
      }
    });
    if (!s.ok()) {
      spdlog::warn("migration source '{}' not checked: {}", src.source,
                   s.ToString());
      continue;
    }
    last_read_[src.source] = now;
    kv::KvBatch batch;
    batch.Put(SourceReadKey(src.source), absl::StrCat(absl::ToUnixMicros(now)));
    for (uint32_t n = 0; n < mine.size(); ++n) {
      Attestation& t = *mine[n];
      const AtSource was = t.at_source;
      const uint64_t was_present = t.present;
      t.present = present[n];
      t.at_source = present[n] > 0 ? AtSource::kPresent : AtSource::kGone;
      if (t.at_source == AtSource::kPresent && was != AtSource::kPresent) {
        out->push_back(
            Make(t, "source",
                 absl::StrCat(
                     present[n], " of its ", t.a.records, " attested rows are ",
                     was == AtSource::kGone ? "back" : "still",
                     " at the source (read ", FormatRfc3339Millis(now), ")"),
                 now));
      }
      if (was != t.at_source || was_present != t.present) {
        t.checked = now;
        batch.Put(Key(t.origin, t.index), Encode(t));
      }
    }
    if (absl::Status w = kv.Write(batch); !w.ok()) {
      spdlog::warn("storing the legacy-deletion check failed: {}",
                   w.ToString());
    }
  }
}

size_t LegacyCheck::pending_writes() const {
  size_t n = 0;
  for (const auto& [k, t] : all_) n += t.writes == Writes::kPending;
  return n;
}

std::vector<MigrationSummary> LegacyCheck::Summarise(
    const std::map<std::pair<std::string, uint64_t>, Attestation>& all,
    const std::vector<MigrationSource>& sources) {
  std::map<std::pair<std::string, std::string>, MigrationSummary> by;
  for (const auto& [k, t] : all) {
    MigrationSummary& m = by[{t.a.migration, t.a.source}];
    m.migration = t.a.migration;
    m.source = t.a.source;
    m.source_configured = std::any_of(
        sources.begin(), sources.end(),
        [&](const MigrationSource& s) { return s.source == m.source; });
    ++m.batches;
    m.records += t.a.records;
    if (t.writes == Writes::kBad || t.at_source == AtSource::kPresent) {
      ++m.unverified;
    } else if (t.writes == Writes::kOk && t.at_source == AtSource::kGone) {
      ++m.verified;
    } else {
      ++m.unchecked;
    }
  }
  std::vector<MigrationSummary> out;
  for (auto& [k, m] : by) out.push_back(std::move(m));
  return out;
}

std::vector<MigrationSummary> LegacyCheck::Summaries() const {
  std::vector<MigrationSummary> out = Summarise(all_, options_.sources);
  for (MigrationSummary& m : out) {
    if (auto it = last_read_.find(m.source); it != last_read_.end())
      m.last_check = it->second;
  }
  return out;
}

absl::StatusOr<std::vector<MigrationSummary>> LoadMigrationSummaries(
    const kv::KvStore& kv, const std::vector<MigrationSource>& sources) {
  std::map<std::pair<std::string, uint64_t>, LegacyCheck::Attestation> all;
  absl::Status bad;
  absl::Status s =
      kv.Scan(kStatePrefix, [&](absl::string_view k, absl::string_view v) {
        absl::StatusOr<LegacyCheck::Attestation> t = LegacyCheck::Decode(k, v);
        if (!t.ok()) {
          bad = t.status();
          return false;
        }
        std::pair<std::string, uint64_t> key{t->origin, t->index};
        all[std::move(key)] = *std::move(t);
        return true;
      });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  std::vector<MigrationSummary> out = LegacyCheck::Summarise(all, sources);
  for (MigrationSummary& m : out) {
    int64_t micros;
    if (absl::StatusOr<std::string> v = kv.Get(SourceReadKey(m.source));
        v.ok() && absl::SimpleAtoi(*v, &micros)) {
      m.last_check = absl::FromUnixMicros(micros);
    }
  }
  return out;
}

std::string MigrationSummariesJson(
    const std::vector<MigrationSummary>& summaries) {
  std::string json = "[";
  for (size_t i = 0; i < summaries.size(); ++i) {
    const MigrationSummary& m = summaries[i];
    if (i) json += ',';
    json += "{\"migration\":";
    AppendJsonString(m.migration, &json);
    json += ",\"source\":";
    AppendJsonString(m.source, &json);
    absl::StrAppend(
        &json, ",\"source_checked\":", m.source_configured ? "true" : "false",
        ",\"batches\":", m.batches, ",\"records\":", m.records,
        ",\"verified\":", m.verified, ",\"unverified\":", m.unverified,
        ",\"unchecked\":", m.unchecked, ",\"last_check\":");
    if (m.last_check == absl::InfinitePast()) {
      json += "null";
    } else {
      absl::StrAppend(&json, "\"", FormatRfc3339Millis(m.last_check), "\"");
    }
    json += '}';
  }
  json += ']';
  return json;
}

}  // namespace clover::audit
