// `clover audit --config FILE` runs the independent auditor until
// SIGINT/SIGTERM; `clover audit report --config FILE --from T --to T --out DIR`
// writes its report.
#include <signal.h>

#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/audit_config.h"
#include "audit/auditor.h"
#include "audit/report.h"
#include "cli/command.h"
#include "core/json_fields.h"
#include "core/rfc3339.h"
#include "core/status_macros.h"

namespace clover::cli {
namespace {

struct AuditFlags {
  std::string config;
  std::string duration;
  std::string from;
  std::string to;
  std::string out;
};

int RunAuditor(const AuditFlags& flags) {
  absl::StatusOr<audit::AuditorConfig> config =
      audit::LoadAuditorConfig(flags.config);
  if (!config.ok()) return ReportError(config.status());
  absl::Duration duration = absl::InfiniteDuration();
  if (!flags.duration.empty() &&
      (!absl::ParseDuration(flags.duration, &duration) ||
       duration <= absl::ZeroDuration())) {
    return ReportError(absl::InvalidArgumentError(absl::StrCat(
        "--duration: not a positive duration: '", flags.duration, "'")));
  }
  // Block the stop signals before any thread starts so that only sigtimedwait
  // sees them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  absl::StatusOr<std::unique_ptr<audit::Auditor>> auditor =
      audit::Auditor::Create(*config);
  if (!auditor.ok()) return ReportError(auditor.status());
  if (absl::Status s = (*auditor)->Start(); !s.ok()) return ReportError(s);
  std::cout << "clover audit: " << config->name << " listening on "
            << config->listen_host << ":" << (*auditor)->port() << "\n"
            << "clover audit: witness key "
            << (*auditor)->witness().verifier_key() << "\n"
            << std::flush;
  const absl::Time deadline = absl::Now() + duration;
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    const absl::Duration wait = std::min(left, absl::Seconds(1));
    timespec ts = absl::ToTimespec(wait);
    if (sigtimedwait(&stop, nullptr, &ts) > 0) break;
  }
  (*auditor)->Stop();
  std::cout << "clover audit: stopped\n";
  return kExitOk;
}

int RunReport(const AuditFlags& flags) {
  absl::StatusOr<audit::AuditorConfig> config =
      audit::LoadAuditorConfig(flags.config);
  if (!config.ok()) return ReportError(config.status());
  absl::Time to = absl::Now();
  absl::Time from = to - absl::Hours(24);
  for (auto [name, text, out] :
       {std::tuple<const char*, const std::string*, absl::Time*>{
            "--from", &flags.from, &from},
        {"--to", &flags.to, &to}}) {
    if (text->empty()) continue;
    absl::StatusOr<absl::Time> t = ParseRfc3339(*text);
    if (!t.ok()) {
      return ReportError(absl::InvalidArgumentError(
          absl::StrCat(name, ": ", t.status().message())));
    }
    *out = *t;
  }
  absl::StatusOr<audit::ReportFiles> files =
      audit::WriteAuditReport(*config, from, to, flags.out);
  if (!files.ok()) return ReportError(files.status());
  std::cout << "wrote " << files->html << "\nwrote " << files->json << "\n";
  return kExitOk;
}

}  // namespace

void RegisterAuditCommands(CLI::App& app) {
  auto flags = std::make_shared<AuditFlags>();
  CLI::App* audit =
      app.add_subcommand("audit",
                         "Run the independent auditor: follow and witness the "
                         "logs, replay decisions, "
                         "raise incidents");
  audit->add_option("--config", flags->config,
                    "Auditor config (see examples/audit.yaml)");
  audit->add_option("--duration", flags->duration,
                    "Stop after this long (e.g. 90s)");
  CLI::App* report = audit->add_subcommand(
      "report", "Write a self-contained HTML report and its JSON for a period");
  report->add_option("--config", flags->config, "Auditor config")->required();
  report->add_option("--from", flags->from,
                     "Start (RFC 3339), default 24 h before --to");
  report->add_option("--to", flags->to, "End (RFC 3339), default now");
  report->add_option("--out", flags->out, "Output directory")->required();
  SetAction(report, [flags] { return RunReport(*flags); });
  SetAction(audit, [flags, audit, report] {
    if (audit->got_subcommand(report)) return kExitOk;
    if (flags->config.empty()) {
      std::cerr << "clover: audit: --config is required\n";
      return kExitBadInput;
    }
    return RunAuditor(*flags);
  });
}

}  // namespace clover::cli
