// `clover audit report --from T --to T --out DIR`: a self-contained HTML report
// (inline SVG chart of the flows, incidents with their evidence, checkpoints
// verified and cosigned, the policy versions in force) and the same data as
// JSON, made from the auditor's store opened read-only (so it can run beside a
// live auditor).
#ifndef CLOVER_AUDIT_REPORT_H_
#define CLOVER_AUDIT_REPORT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "audit/audit_config.h"
#include "audit/flows.h"

namespace clover::audit {

struct ReportFiles {
  std::string html;  // DIR/audit-report.html
  std::string json;  // DIR/audit-report.json
};

// The report's chart: field decisions in [from, to) per destination, stacked
// by effect, as a standalone SVG whose legend labels every effect inside the
// drawing.
[[nodiscard]] std::string FlowChartSvg(const FlowStats& flows, absl::Time from,
                                       absl::Time to);

// Errors: InvalidArgument if to <= from; Internal for store or file errors
// (naming the path); the store must exist (NotFound otherwise).
[[nodiscard]] absl::StatusOr<ReportFiles> WriteAuditReport(
    const AuditorConfig& config, absl::Time from, absl::Time to,
    const std::string& out_dir);

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_REPORT_H_
