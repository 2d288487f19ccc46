#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "config/deployment.h"
#include "core/test_temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrate/mapping.h"
#include "migrate/runner.h"
#include "migrate/source.h"
#include "vault/record_hash.h"

namespace clover::migrate {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const Deployment& Examples() {
  static const Deployment* d = [] {
    auto loaded = LoadDeployment(std::string(CLOVER_SOURCE_DIR) +
                                 "/examples/deployment.yaml");
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new Deployment(*std::move(loaded));
  }();
  return *d;
}

constexpr char kMapping[] = R"(migration: test-run
table: legacy.users
key: user_id
country: country_code
batch_size: 2
fields:
  email: {column: mail, format: email}
  name: full_name
  follows: {column: follows, list_separator: ";"}
)";

TEST(MappingTest, ReadsColumnsOnceInOrder) {
  auto m = ParseMapping(kMapping, "m.yaml", Examples().schema);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->columns,
            (std::vector<std::string>{"user_id", "country_code", "mail",
                                      "full_name", "follows"}));
  EXPECT_EQ(m->subject_column, 0u);
  EXPECT_EQ(m->batch_size, 2u);
  EXPECT_EQ(m->table, "legacy.users");
  ASSERT_EQ(m->fields.size(), 3u);
  EXPECT_EQ(m->fields[2].list_separator, ";");
}

TEST(MappingTest, ErrorsAreOneLineNamingFileLineAndField) {
  struct Case {
    std::string yaml;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"key: id\ncountry: c\nfields: {email: mail}\ncolour: red\n",
       "m.yaml:4:1: field 'colour': unknown key"},
      {"country: c\nfields: {email: mail}\n", "field 'key': required"},
      {"key: id\ncountry: c\nfields:\n  emial: mail\n",
       "m.yaml:4:3: field 'fields.emial': not a field of the schema"},
      {"key: id\ncountry: c\nfields:\n  email: {column: mail, format: text}\n",
       "field 'fields.email.format': 'text' differs from the schema's format "
       "'email'"},
      {"key: id\ncountry: c\nfields:\n  email: \"mail; drop\"\n",
       "field 'fields.email': a column name"},
      {"key: id\ncountry: c\ntable: \"a.b.c\"\nfields: {email: mail}\n",
       "field 'table'"},
      {"key: id\ncountry: c\nbatch_size: 0\nfields: {email: mail}\n",
       "field 'batch_size': an integer from 1 to 500"},
      {"key: id\ncountry: c\nfields:\n  name: {column: n, list_separator: x}\n",
       "for text_list fields only"},
      {"key: [\n", "m.yaml:"},
  };
  for (const Case& c : cases) {
    auto m = ParseMapping(c.yaml, "m.yaml", Examples().schema);
    ASSERT_FALSE(m.ok()) << c.yaml;
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(m.status().message()), HasSubstr(c.want)) << c.yaml;
    EXPECT_FALSE(absl::StrContains(m.status().message(), "\n")) << c.yaml;
  }
}

TEST(CsvTest, QuotesSeparatorsAndLineBreaks) {
  CsvCursor csv("a,b\r\n\"x,1\",\"say \"\"hi\"\"\"\n\"two\nlines\",\n");
  std::vector<std::string> cells;
  ASSERT_TRUE(*csv.Next(cells));
  EXPECT_EQ(cells, (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(*csv.Next(cells));
  EXPECT_EQ(cells, (std::vector<std::string>{"x,1", "say \"hi\""}));
  EXPECT_EQ(csv.line(), 2u);
  ASSERT_TRUE(*csv.Next(cells));
  EXPECT_EQ(cells, (std::vector<std::string>{"two\nlines", ""}));
  EXPECT_EQ(csv.line(), 3u);
  EXPECT_FALSE(*csv.Next(cells));
}

TEST(CsvTest, MalformedInputNamesTheLine) {
  std::vector<std::string> cells;
  CsvCursor open_quote("a\n\"never closed\n");
  ASSERT_TRUE(*open_quote.Next(cells));
  auto r = open_quote.Next(cells);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), StartsWith("line 2:"));
  CsvCursor stray("a\"b\n");
  EXPECT_FALSE(stray.Next(cells).ok());
  CsvCursor after("\"a\"b\n");
  EXPECT_FALSE(after.Next(cells).ok());
}

TEST(CsvTest, ScanChecksHeaderAndWidth) {
  auto m = ParseMapping(kMapping, "m.yaml", Examples().schema);
  ASSERT_TRUE(m.ok());
  auto count = [&](const std::string& text) {
    int n = 0;
    absl::Status s = ScanCsv(text, *m, [&](Row) {
      ++n;
      return absl::OkStatus();
    });
    return s.ok() ? absl::StatusOr<int>(n) : absl::StatusOr<int>(s);
  };
  EXPECT_EQ(*count("user_id,country_code,mail,full_name,follows\n"
                   "1,IE,a@b.example,A,x;y\n2,US,,B,\n"),
            2);
  auto no_column = count("user_id,country_code,mail,full_name\n1,IE,a,b\n");
  ASSERT_FALSE(no_column.ok());
  EXPECT_THAT(std::string(no_column.status().message()),
              HasSubstr("line 1: the header has no column 'follows'"));
  auto width = count("user_id,country_code,mail,full_name,follows\n1,IE\n");
  ASSERT_FALSE(width.ok());
  EXPECT_THAT(std::string(width.status().message()),
              HasSubstr("line 2: 2 cells"));
  auto no_key = count("user_id,country_code,mail,full_name,follows\n,IE,,,\n");
  ASSERT_FALSE(no_key.ok());
  EXPECT_THAT(std::string(no_key.status().message()),
              HasSubstr("line 2: no value"));
}

TEST(NdjsonTest, ValuesNullsAndErrors) {
  auto m = ParseMapping(kMapping, "m.yaml", Examples().schema);
  ASSERT_TRUE(m.ok());
  auto row = ParseNdjsonRow(
      R"({"user_id":7,"country_code":"ie","mail":null,"follows":["a","b"]})",
      *m);
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(row->key(), "7");
  EXPECT_EQ(*row->values[1], "ie");
  EXPECT_FALSE(row->values[2].has_value());
  EXPECT_FALSE(row->values[3].has_value());
  EXPECT_EQ(*row->values[4], R"(["a","b"])");
  EXPECT_FALSE(ParseNdjsonRow("[1]", *m).ok());
  EXPECT_FALSE(ParseNdjsonRow("{\"user_id\":", *m).ok());
  EXPECT_FALSE(ParseNdjsonRow(R"({"country_code":"IE"})", *m).ok());
  EXPECT_FALSE(ParseNdjsonRow(R"({"user_id":"1","mail":{"a":1}})", *m).ok());
}

TEST(RecordHashTest, IgnoresFieldOrderOnly) {
  vault::Record a;
  a.country = "IE";
  a.fields.push_back({"name", false, "A", {}});
  a.fields.push_back({"email", false, "a@b.example", {}});
  vault::Record b = a;
  std::swap(b.fields[0], b.fields[1]);
  EXPECT_EQ(vault::CanonicalRecordHash(a), vault::CanonicalRecordHash(b));
  b.fields[0].value = "x@b.example";
  EXPECT_NE(vault::CanonicalRecordHash(a), vault::CanonicalRecordHash(b));
  b = a;
  b.country = "FR";
  EXPECT_NE(vault::CanonicalRecordHash(a), vault::CanonicalRecordHash(b));
}

// A dry run over a dump: counts per home region, no home region by reason,
// mapping errors with their source line; nothing written.
TEST(DryRunTest, PlansPerRegionQuarantineAndErrors) {
  test::TempDir dir("migrate");
  const std::string csv = dir.Sub("users.csv");
  std::ofstream(csv) << "user_id,country_code,mail,full_name,follows\n"
                        "1,IE,a@b.example,A,x;y\n"
                        "2,us,b@b.example,B,\n"
                        "3,CN,c@b.example,C,\n"
                        "4,,d@b.example,D,\n"
                        "5,ZZ,e@b.example,E,\n"
                        "6,DE,not-an-email,F,\n"
                        "7,NO,g@b.example,G,\n";
  auto m = ParseMapping(kMapping, "m.yaml", Examples().schema);
  ASSERT_TRUE(m.ok());
  auto src = OpenSource(csv, *m);
  ASSERT_TRUE(src.ok()) << src.status();
  EXPECT_THAT((*src)->identity(), StartsWith("csv:"));
  EXPECT_FALSE((*src)->deletes());
  RunOptions o;
  o.dry_run = true;
  auto s = RunLegacyMigration(Examples(), *m, **src, o);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->records["eu"], 2u);
  EXPECT_EQ(s->records["us"], 1u);
  EXPECT_EQ(s->quarantined["no_home_region:cn"], 1u);
  EXPECT_EQ(s->quarantined["missing_country"], 1u);
  EXPECT_EQ(s->quarantined["unknown_country"], 1u);
  ASSERT_EQ(s->mapping_errors, 1u);
  EXPECT_EQ(s->first_errors[0].line, 7u);
  EXPECT_EQ(s->first_errors[0].key, "6");
  EXPECT_THAT(s->first_errors[0].message, HasSubstr("field 'email'"));
  EXPECT_FALSE(std::filesystem::exists("clover-legacy-test-run.journal"));
  const std::string text = SummaryText(*s);
  EXPECT_THAT(text, HasSubstr("eu: 2 records to migrate"));
  EXPECT_THAT(text, HasSubstr("line 7, row 6: field 'email'"));
}

}  // namespace
}  // namespace clover::migrate
