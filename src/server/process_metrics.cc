#include "server/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

#ifndef CLOVER_COMMIT
#define CLOVER_COMMIT "unknown"
#endif

namespace clover::server {

namespace {

std::optional<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Seconds since the epoch at boot: the btime line of /proc/stat.
std::optional<double> BootTime() {
  std::optional<std::string> stat = ReadFile("/proc/stat");
  if (!stat.has_value()) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*stat, '\n')) {
    if (!absl::ConsumePrefix(&line, "btime ")) continue;
    double v;
    if (absl::SimpleAtod(line, &v)) return v;
  }
  return std::nullopt;
}

std::optional<int> OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  int n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the descriptor of the listing itself
}

void Metric(absl::string_view name, absl::string_view type,
            absl::string_view help, double value, std::string& out) {
  absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ",
                  type, "\n", name, " ", absl::StrFormat("%.15g", value), "\n");
}

// A label value in the exposition format: backslash, quote and newline
// escaped.
std::string LabelValue(absl::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::optional<ProcessStat> ParseProcStat(absl::string_view text,
                                         long ticks_per_second,
                                         long page_size) {
  if (ticks_per_second <= 0 || page_size <= 0) return std::nullopt;
  // "pid (comm) state ppid ...": comm may contain ") ", so the last ')'.
  size_t close = text.rfind(')');
  if (close == absl::string_view::npos || close + 2 > text.size()) {
    return std::nullopt;
  }
  std::vector<absl::string_view> f =
      absl::StrSplit(text.substr(close + 2), ' ', absl::SkipEmpty());
  // After comm: field 3 (state) is f[0], so field N is f[N - 3].
  auto field = [&](int n, double* v) {
    size_t i = static_cast<size_t>(n - 3);
    return i < f.size() && absl::SimpleAtod(f[i], v);
  };
  double utime, stime, start, vsize, rss;
  if (!field(14, &utime) || !field(15, &stime) || !field(22, &start) ||
      !field(23, &vsize) || !field(24, &rss)) {
    return std::nullopt;
  }
  ProcessStat s;
  const double ticks = static_cast<double>(ticks_per_second);
  s.cpu_seconds = (utime + stime) / ticks;
  s.start_time_seconds = start / ticks;
  s.virtual_bytes = vsize;
  s.resident_bytes = rss * static_cast<double>(page_size);
  return s;
}

std::string RenderProcessMetrics() {
  std::string out;
  std::optional<std::string> text = ReadFile("/proc/self/stat");
  std::optional<ProcessStat> stat;
  if (text.has_value()) {
    stat = ParseProcStat(*text, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE));
  }
  if (stat.has_value()) {
    Metric("process_cpu_seconds_total", "counter",
           "Total user and system CPU time spent in seconds.",
           stat->cpu_seconds, out);
    Metric("process_resident_memory_bytes", "gauge",
           "Resident memory size in bytes.", stat->resident_bytes, out);
    Metric("process_virtual_memory_bytes", "gauge",
           "Virtual memory size in bytes.", stat->virtual_bytes, out);
    if (std::optional<double> boot = BootTime()) {
      Metric("process_start_time_seconds", "gauge",
             "Start time of the process since unix epoch in seconds.",
             *boot + stat->start_time_seconds, out);
    }
  }
  if (std::optional<int> fds = OpenFds()) {
    Metric("process_open_fds", "gauge", "Number of open file descriptors.",
           *fds, out);
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur != RLIM_INFINITY) {
    Metric("process_max_fds", "gauge",
           "Maximum number of open file descriptors.",
           static_cast<double>(limit.rlim_cur), out);
  }
  absl::StrAppend(&out,
                  "# HELP clover_build_info The version and commit this "
                  "binary was built from (always 1).\n"
                  "# TYPE clover_build_info gauge\n"
                  "clover_build_info{version=\"",
                  LabelValue(BuildVersion()), "\",commit=\"",
                  LabelValue(BuildCommit()), "\"} 1\n");
  return out;
}

absl::string_view BuildVersion() { return CLOVER_VERSION; }
absl::string_view BuildCommit() { return CLOVER_COMMIT; }

}  // namespace clover::server
