// `clover migrate legacy --source SRC --mapping MAPPING.yaml --deployment
// DEPLOYMENT.yaml [--dry-run] [--json] [--journal F]`: legacy data home,
// verified, deleted at the source and the deletion attested
// (migrate/runner.h; docs/operations.md "Legacy migration").
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "config/deployment.h"
#include "migrate/mapping.h"
#include "migrate/runner.h"
#include "migrate/source.h"

namespace clover::cli {
namespace {

struct LegacyFlags {
  std::string source;
  std::string mapping;
  std::string deployment;
  std::string journal;
  std::string quarantine;
  std::string api_key_file;
  bool dry_run = false;
  bool json = false;
  int workers = 8;
  double progress_seconds = 10;
};

// One line on stderr; bad input (InvalidArgument, NotFound) exits 2, the
// rest (a node refusing, a read-back that differs, a database gone) 1.
int Fail(const absl::Status& s) {
  std::cerr << "clover: " << s.message() << "\n";
  return s.code() == absl::StatusCode::kInvalidArgument ||
                 s.code() == absl::StatusCode::kNotFound
             ? kExitBadInput
             : kExitRuntime;
}

absl::StatusOr<std::string> ReadText(const std::string& path,
                                     absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot read the ", what));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int MigrateLegacy(const LegacyFlags& f) {
  auto deployment = LoadDeployment(f.deployment);
  if (!deployment.ok()) {
    return Fail(absl::InvalidArgumentError(deployment.status().message()));
  }
  auto text = ReadText(f.mapping, "mapping");
  if (!text.ok()) return Fail(text.status());
  auto mapping = migrate::ParseMapping(*text, f.mapping, deployment->schema);
  if (!mapping.ok()) return Fail(mapping.status());
  migrate::RunOptions o;
  o.dry_run = f.dry_run;
  o.journal = f.journal;
  o.quarantine = f.quarantine;
  o.workers = f.workers;
  o.progress_seconds = f.progress_seconds;
  if (!f.dry_run) {
    if (f.api_key_file.empty()) {
      return Fail(absl::InvalidArgumentError(
          "--api-key-file: required (the migration principal's API key) "
          "unless --dry-run"));
    }
    auto key = ReadText(f.api_key_file, "API key file");
    if (!key.ok()) return Fail(key.status());
    o.api_key = std::string(absl::StripAsciiWhitespace(*key));
    if (o.api_key.empty()) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat(f.api_key_file, ": empty API key file")));
    }
  }
  auto source = migrate::OpenSource(f.source, *mapping);
  if (!source.ok()) return Fail(source.status());
  auto summary =
      migrate::RunLegacyMigration(*deployment, *mapping, **source, o);
  if (!summary.ok()) return Fail(summary.status());
  std::cout << (f.json ? migrate::SummaryJson(*summary)
                       : migrate::SummaryText(*summary))
            << std::flush;
  return kExitOk;
}

}  // namespace

void RegisterLegacyMigrateCommand(CLI::App* migrate) {
  auto* legacy = migrate->add_subcommand(
      "legacy",
      "Move legacy records to their home regions through the gateway, "
      "verify them there, delete them at the source and have the deletion "
      "attested in the log. Resumable (--journal).");
  auto f = std::make_shared<LegacyFlags>();
  legacy
      ->add_option("--source", f->source,
                   "A PostgreSQL connection string (the mapping names the "
                   "table), or a .csv, .ndjson or .jsonl dump")
      ->required();
  legacy->add_option("--mapping", f->mapping, "The mapping file (YAML)")
      ->required();
  legacy
      ->add_option("--deployment", f->deployment,
                   "The deployment (regions, their nodes' endpoints, schema)")
      ->required();
  legacy->add_flag("--dry-run", f->dry_run,
                   "Print the plan only: records per home region, records "
                   "with none, mapping errors; write and delete nothing");
  legacy->add_flag("--json", f->json, "Print the summary as one JSON object");
  legacy->add_option("--journal", f->journal,
                     "The journal file (default "
                     "clover-legacy-<migration>.journal)");
  legacy->add_option("--quarantine", f->quarantine,
                     "The quarantine report (default "
                     "<journal>.quarantine.ndjson)");
  legacy->add_option("--api-key-file", f->api_key_file,
                     "A file holding the migration principal's API key");
  legacy->add_option("--workers", f->workers, "Batches in flight (1-64)")
      ->check(CLI::Range(1, 64));
  legacy
      ->add_option("--progress-seconds", f->progress_seconds,
                   "Seconds between progress lines when stderr is not a "
                   "terminal")
      ->check(CLI::Range(0.1, 3600.0));
  SetAction(legacy, [f] { return MigrateLegacy(*f); });
}

}  // namespace clover::cli
