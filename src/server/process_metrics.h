// The standard process metrics of Prometheus client libraries, read from
// /proc at scrape time, and the build's identity, for the /metrics pages of
// the node and the auditor:
//   process_cpu_seconds_total        counter  user + system CPU time
//   process_resident_memory_bytes    gauge
//   process_virtual_memory_bytes     gauge
//   process_open_fds                 gauge
//   process_max_fds                  gauge    soft RLIMIT_NOFILE
//   process_start_time_seconds       gauge    Unix time the process started
//   clover_build_info{version,commit} gauge   always 1
// A value /proc does not give (another OS, a restricted /proc) is left out;
// the rest still renders.
#ifndef CLOVER_SERVER_PROCESS_METRICS_H_
#define CLOVER_SERVER_PROCESS_METRICS_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace clover::server {

struct ProcessStat {
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double start_time_seconds = 0;  // since boot, see ParseProcStat
};

// Parses the text of /proc/self/stat (the command name in parentheses may
// itself hold spaces and parentheses) with `ticks_per_second` and
// `page_size`; nullopt when it is not that format. start_time_seconds is
// relative to boot.
std::optional<ProcessStat> ParseProcStat(absl::string_view text,
                                         long ticks_per_second, long page_size);

// The metrics above in the text exposition format 0.0.4, to append to a
// registry's Render().
std::string RenderProcessMetrics();

// The version and the git commit this binary was built from ("unknown"
// outside a git checkout).
absl::string_view BuildVersion();
absl::string_view BuildCommit();

}  // namespace clover::server

#endif  // CLOVER_SERVER_PROCESS_METRICS_H_
