#include "migrate/source.h"

#include <libpq-fe.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "crypto/sha256.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace clover::migrate {

absl::StatusOr<bool> CsvCursor::Next(std::vector<std::string>& cells) {
  cells.clear();
  if (pos_ >= text_.size()) return false;
  record_line_ = next_line_;
  std::string cell;
  while (true) {
    if (pos_ < text_.size() && text_[pos_] == '"') {
      ++pos_;
      while (true) {
        if (pos_ >= text_.size()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "line ", record_line_, ": a quoted cell is not closed"));
        }
        char c = text_[pos_++];
        if (c == '"') {
          if (pos_ < text_.size() && text_[pos_] == '"') {
            cell.push_back('"');
            ++pos_;
            continue;
          }
          break;
        }
        if (c == '\n') ++next_line_;
        cell.push_back(c);
      }
      if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' &&
          !(text_[pos_] == '\r' && pos_ + 1 < text_.size() &&
            text_[pos_ + 1] == '\n') &&
          !(text_[pos_] == '\r' && pos_ + 1 == text_.size())) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", next_line_, ": text after a closing quote"));
      }
    } else {
      while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' &&
             !(text_[pos_] == '\r' &&
               (pos_ + 1 == text_.size() || text_[pos_ + 1] == '\n'))) {
        if (text_[pos_] == '"') {
          return absl::InvalidArgumentError(absl::StrCat(
              "line ", next_line_, ": a quote inside an unquoted cell"));
        }
        cell.push_back(text_[pos_++]);
      }
    }
    cells.push_back(std::move(cell));
    cell.clear();
    if (pos_ >= text_.size()) return true;
    char c = text_[pos_];
    if (c == ',') {
      ++pos_;
      continue;
    }
    if (c == '\r') ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
    ++next_line_;
    return true;
  }
}

absl::Status ScanCsv(absl::string_view text, const LegacyMapping& mapping,
                     const std::function<absl::Status(Row)>& fn) {
  CsvCursor csv(text);
  std::vector<std::string> cells;
  auto header = csv.Next(cells);
  if (!header.ok()) return header.status();
  if (!*header) return absl::InvalidArgumentError("line 1: no header row");
  const size_t width = cells.size();
  std::vector<size_t> index;  // mapped column -> cell
  for (const std::string& column : mapping.columns) {
    auto it = std::find(cells.begin(), cells.end(), column);
    if (it == cells.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("line 1: the header has no column '", column, "'"));
    }
    index.push_back(static_cast<size_t>(it - cells.begin()));
  }
  while (true) {
    auto more = csv.Next(cells);
    if (!more.ok()) return more.status();
    if (!*more) return absl::OkStatus();
    if (cells.size() == 1 && cells[0].empty()) continue;  // blank line
    if (cells.size() != width) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", csv.line(), ": ", cells.size(),
                       " cells where the header has ", width));
    }
    Row row;
    row.line = csv.line();
    for (size_t i : index) {
      if (cells[i].empty()) {
        row.values.emplace_back();
      } else {
        row.values.emplace_back(std::move(cells[i]));
      }
    }
    if (!row.values[0].has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", csv.line(), ": no value in key column '",
                       mapping.columns[0], "'"));
    }
    if (absl::Status s = fn(std::move(row)); !s.ok()) return s;
  }
}

absl::StatusOr<Row> ParseNdjsonRow(absl::string_view line,
                                   const LegacyMapping& mapping) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseStopWhenDoneFlag>(line.data(), line.size());
  if (d.HasParseError()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not JSON at byte ", d.GetErrorOffset(), ": ",
                     rapidjson::GetParseError_En(d.GetParseError())));
  }
  if (!d.IsObject()) return absl::InvalidArgumentError("not a JSON object");
  Row row;
  for (const std::string& column : mapping.columns) {
    auto it = d.FindMember(column.c_str());
    if (it == d.MemberEnd() || it->value.IsNull()) {
      row.values.emplace_back();
      continue;
    }
    const rapidjson::Value& v = it->value;
    if (v.IsString()) {
      row.values.emplace_back(std::string(v.GetString(), v.GetStringLength()));
    } else if (v.IsObject()) {
      return absl::InvalidArgumentError(
          absl::StrCat("member '", column, "': an object"));
    } else {
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      v.Accept(w);
      row.values.emplace_back(std::string(buf.GetString(), buf.GetSize()));
    }
  }
  if (!row.values[0].has_value() || row.values[0]->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no value in key member '", mapping.columns[0], "'"));
  }
  return row;
}

absl::Status ScanNdjson(absl::string_view text, const LegacyMapping& mapping,
                        const std::function<absl::Status(Row)>& fn) {
  uint64_t n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++n;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    auto row = ParseNdjsonRow(line, mapping);
    if (!row.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", n, ": ", row.status().message()));
    }
    row->line = n;
    if (absl::Status s = fn(*std::move(row)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

namespace {

std::string HexSha256(absl::string_view data) {
  const crypto::Sha256Digest d = crypto::Sha256(data);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

// A dump read whole: its identity is the hash of its bytes, so the auditor
// is given the same string for the same dump.
class FileSource : public LegacySource {
 public:
  FileSource(std::string path, bool csv, std::string text,
             const LegacyMapping& mapping)
      : path_(std::move(path)),
        csv_(csv),
        text_(std::move(text)),
        mapping_(mapping),
        identity_(absl::StrCat(csv ? "csv:" : "ndjson:", HexSha256(text_))) {}

  const std::string& identity() const override { return identity_; }
  bool deletes() const override { return false; }
  uint64_t Count() override {
    return static_cast<uint64_t>(std::count(text_.begin(), text_.end(), '\n'));
  }
  absl::Status Scan(const std::function<absl::Status(Row)>& fn) override {
    absl::Status s =
        csv_ ? ScanCsv(text_, mapping_, fn) : ScanNdjson(text_, mapping_, fn);
    if (!s.ok() && s.code() == absl::StatusCode::kInvalidArgument &&
        absl::StartsWith(s.message(), "line ")) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ":", s.message().substr(5)));
    }
    return s;
  }
  absl::StatusOr<std::vector<Row>> Fetch(
      const std::vector<std::string>& keys) override {
    std::set<std::string> want(keys.begin(), keys.end());
    std::vector<Row> out;
    absl::Status s = Scan([&](Row row) {
      if (want.erase(row.key()) > 0) out.push_back(std::move(row));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }
  absl::StatusOr<uint64_t> Delete(const std::vector<std::string>&) override {
    return absl::FailedPreconditionError("a dump's rows cannot be deleted");
  }

 private:
  std::string path_;
  bool csv_;
  std::string text_;
  const LegacyMapping& mapping_;
  std::string identity_;
};

struct PgDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgConn = std::unique_ptr<PGconn, PgDeleter>;
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

absl::Status PgError(PGconn* c, const PGresult* r, absl::string_view what) {
  const char* primary =
      r != nullptr ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string msg = primary != nullptr ? primary : PQerrorMessage(c);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) {
    msg.pop_back();
  }
  if (PQstatus(c) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("postgres ", what, ": ", msg));
  }
  return absl::InternalError(absl::StrCat("postgres ", what, ": ", msg));
}

std::string QuoteIdent(absl::string_view name) {
  std::vector<std::string> parts;
  for (absl::string_view p : absl::StrSplit(name, '.')) {
    parts.push_back(absl::StrCat("\"", p, "\""));
  }
  return absl::StrJoin(parts, ".");
}

// A text[] literal of `keys` ({"a","b"} with \ and " escaped).
std::string TextArray(const std::vector<std::string>& keys) {
  std::string out = "{";
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    for (char c : keys[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

// A legacy table. Rows are read as text over a cursor in one read-only
// transaction on its own connection; deletes run on another connection, each
// batch in one transaction, with the key cast to the column's own type so
// that the table's key index serves them.
class PostgresSource : public LegacySource {
 public:
  static absl::StatusOr<std::unique_ptr<PostgresSource>> Open(
      const std::string& dsn, const LegacyMapping& mapping) {
    auto s = std::unique_ptr<PostgresSource>(new PostgresSource(mapping));
    for (PgConn* c : {&s->read_, &s->write_}) {
      c->reset(PQconnectdb(dsn.c_str()));
      if (PQstatus(c->get()) != CONNECTION_OK) {
        return PgError(c->get(), nullptr, "connect");
      }
    }
    s->table_ = QuoteIdent(mapping.table);
    std::string table_name = mapping.table;
    if (table_name.find('.') != std::string::npos) {
      table_name = table_name.substr(table_name.find('.') + 1);
    }
    s->identity_ = absl::StrCat("postgres:", PQhost(s->read_.get()), ":",
                                PQport(s->read_.get()), "/",
                                PQdb(s->read_.get()), "/", table_name);
    // The key column's type, and that every mapped column exists.
    std::vector<std::string> cols;
    for (const std::string& c : mapping.columns) cols.push_back(c);
    const std::string arr = TextArray(cols);
    const char* params[] = {mapping.table.c_str(), arr.c_str()};
    PgResult r(PQexecParams(
        s->write_.get(),
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) "
        "FROM pg_attribute a WHERE a.attrelid = $1::regclass AND "
        "a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY($2::text[])",
        2, nullptr, params, nullptr, nullptr, 0));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
      return absl::InvalidArgumentError(absl::StrCat(
          "table '", mapping.table,
          "': ", PgError(s->write_.get(), r.get(), "lookup").message()));
    }
    std::map<std::string, std::string> types;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      types[PQgetvalue(r.get(), i, 0)] = PQgetvalue(r.get(), i, 1);
    }
    for (const std::string& c : mapping.columns) {
      if (!types.contains(c)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "table '", mapping.table, "' has no column '", c, "'"));
      }
    }
    s->key_type_ = types[mapping.columns[0]];
    std::vector<std::string> select;
    for (const std::string& c : mapping.columns) {
      select.push_back(absl::StrCat(QuoteIdent(c), "::text"));
    }
    s->select_ = absl::StrCat("SELECT ", absl::StrJoin(select, ", "), " FROM ",
                              s->table_);
    return s;
  }

  const std::string& identity() const override { return identity_; }
  bool deletes() const override { return true; }

  uint64_t Count() override {
    std::lock_guard<std::mutex> lock(write_mu_);
    PgResult r(PQexec(write_.get(),
                      absl::StrCat("SELECT count(*) FROM ", table_).c_str()));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return 0;
    return std::strtoull(PQgetvalue(r.get(), 0, 0), nullptr, 10);
  }

  absl::Status Scan(const std::function<absl::Status(Row)>& fn) override {
    PGconn* c = read_.get();
    auto exec = [&](const std::string& sql) -> absl::Status {
      PgResult r(PQexec(c, sql.c_str()));
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
        return PgError(c, r.get(), "scan");
      }
      return absl::OkStatus();
    };
    if (absl::Status s =
            exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        !s.ok()) {
      return s;
    }
    if (absl::Status s = exec(absl::StrCat(
            "DECLARE clover_legacy NO SCROLL CURSOR FOR ", select_));
        !s.ok()) {
      (void)exec("ROLLBACK");
      return s;
    }
    absl::Status status;
    while (status.ok()) {
      PgResult r(PQexec(c, "FETCH 5000 FROM clover_legacy"));
      if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
        status = PgError(c, r.get(), "scan");
        break;
      }
      const int n = PQntuples(r.get());
      if (n == 0) break;
      for (int i = 0; i < n && status.ok(); ++i) status = fn(RowOf(r.get(), i));
    }
    (void)exec("ROLLBACK");
    return status;
  }

  absl::StatusOr<std::vector<Row>> Fetch(
      const std::vector<std::string>& keys) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    const std::string arr = TextArray(keys);
    const char* params[] = {arr.c_str()};
    const std::string sql =
        absl::StrCat(select_, " WHERE ", QuoteIdent(mapping_.columns[0]),
                     " = ANY($1::text[]::", key_type_, "[])");
    PgResult r(PQexecParams(write_.get(), sql.c_str(), 1, nullptr, params,
                            nullptr, nullptr, 0));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
      return PgError(write_.get(), r.get(), "fetch");
    }
    std::vector<Row> out;
    for (int i = 0; i < PQntuples(r.get()); ++i)
      out.push_back(RowOf(r.get(), i));
    return out;
  }

  absl::StatusOr<uint64_t> Delete(
      const std::vector<std::string>& keys) override {
    // One statement is one transaction (autocommit): all of the batch's rows
    // go, or none.
    std::lock_guard<std::mutex> lock(write_mu_);
    const std::string arr = TextArray(keys);
    const char* params[] = {arr.c_str()};
    const std::string sql = absl::StrCat(
        "DELETE FROM ", table_, " WHERE ", QuoteIdent(mapping_.columns[0]),
        " = ANY($1::text[]::", key_type_, "[])");
    PgResult r(PQexecParams(write_.get(), sql.c_str(), 1, nullptr, params,
                            nullptr, nullptr, 0));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      return PgError(write_.get(), r.get(), "delete");
    }
    return std::strtoull(PQcmdTuples(r.get()), nullptr, 10);
  }

 private:
  explicit PostgresSource(const LegacyMapping& mapping) : mapping_(mapping) {}

  Row RowOf(const PGresult* r, int i) const {
    Row row;
    for (int c = 0; c < PQnfields(r); ++c) {
      if (PQgetisnull(r, i, c)) {
        row.values.emplace_back();
      } else {
        row.values.emplace_back(
            std::string(PQgetvalue(r, i, c), PQgetlength(r, i, c)));
      }
    }
    return row;
  }

  const LegacyMapping& mapping_;
  PgConn read_;  // the scan's, on the thread that scans
  // Fetches and deletes from every worker: one libpq connection is not
  // thread-safe, so they take turns (each is one short statement).
  std::mutex write_mu_;
  PgConn write_;
  std::string table_;
  std::string key_type_;
  std::string select_;
  std::string identity_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LegacySource>> OpenSource(
    const std::string& src, const LegacyMapping& mapping) {
  const bool csv = absl::EndsWith(src, ".csv");
  const bool ndjson =
      absl::EndsWith(src, ".ndjson") || absl::EndsWith(src, ".jsonl");
  if (csv || ndjson) {
    std::ifstream in(src, std::ios::binary);
    if (!in) {
      return absl::InvalidArgumentError(
          absl::StrCat(src, ": cannot read the source file"));
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return std::unique_ptr<LegacySource>(
        new FileSource(src, csv, ss.str(), mapping));
  }
  if (mapping.table.empty()) {
    return absl::InvalidArgumentError(
        "--source: a PostgreSQL source needs 'table' in the mapping (or name "
        "a .csv, .ndjson or .jsonl file)");
  }
  auto pg = PostgresSource::Open(src, mapping);
  if (!pg.ok()) return pg.status();
  return std::unique_ptr<LegacySource>(*std::move(pg));
}

}  // namespace clover::migrate
