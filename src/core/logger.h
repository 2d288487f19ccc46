// The process's operational log: one small interface for every message the
// node, the auditor and the CLI write about themselves (not the transparency
// log, which is src/log). A line is either one JSON object
//   {"time":"2026-12-06T13:03:07.123Z","level":"info","message":"...",k:v...}
// (time RFC 3339 UTC with milliseconds; fields after the fixed keys, in the
// order given) or, in the text format, "time LEVEL message k=v ...".
//
// Where lines go is a LogOutput (stderr by default; tests capture them in a
// MemoryLogOutput). Configure() sets the level, format and output for the
// whole process; InstallSpdlogBridge() routes spdlog's default logger (used
// by code not yet moved to this interface) into the same output, so every
// line of a process has one shape.
//
// Secrets never belong in a message or field. As a second line of defence,
// every message and string field passes through Redact() before it is
// written, and a string field whose key names a secret (…password, …secret,
// …token, …key, pin) is written as "[redacted]".
//
// Thread-safety: Log() and the helpers may be called from any thread; a line
// is written whole. Configure() may race with Log() (the output is swapped
// under a lock).
#ifndef CLOVER_CORE_LOGGER_H_
#define CLOVER_CORE_LOGGER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace clover::logging {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kJson, kText };

// "debug", "info", "warn" (or "warning"), "error"; InvalidArgument otherwise.
[[nodiscard]] absl::StatusOr<Level> ParseLevel(absl::string_view text);
// "json" or "text"; InvalidArgument otherwise.
[[nodiscard]] absl::StatusOr<Format> ParseFormat(absl::string_view text);
absl::string_view LevelName(Level level);

// One key/value of a line. Integers, doubles and booleans are written as JSON
// numbers and booleans, everything else as a (redacted) string.
class Field {
 public:
  Field(absl::string_view key, absl::string_view value)
      : key_(key), text_(value), quoted_(true) {}
  Field(absl::string_view key, const std::string& value)
      : Field(key, absl::string_view(value)) {}
  Field(absl::string_view key, const char* value)
      : Field(key, absl::string_view(value)) {}
  Field(absl::string_view key, bool value)
      : key_(key), text_(value ? "true" : "false"), quoted_(false) {}
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>,
                             int> = 0>
  Field(absl::string_view key, T value)
      : key_(key), text_(std::to_string(value)), quoted_(false) {}
  Field(absl::string_view key, double value);

  absl::string_view key() const { return key_; }
  absl::string_view text() const { return text_; }
  bool quoted() const { return quoted_; }

 private:
  std::string key_;
  std::string text_;
  bool quoted_;
};

using Fields = std::vector<Field>;

// Where formatted lines go. Write gets one line without its newline; it is
// called under the logger's lock, so lines never interleave.
class LogOutput {
 public:
  virtual ~LogOutput() = default;
  virtual void Write(absl::string_view line) = 0;
};

// Lines to the process's stderr (unbuffered, one write(2) per line).
class StderrLogOutput final : public LogOutput {
 public:
  void Write(absl::string_view line) override;
};

// Lines kept in memory, for tests.
class MemoryLogOutput final : public LogOutput {
 public:
  void Write(absl::string_view line) override;
  std::vector<std::string> Lines() const;
  // All lines, each followed by '\n'.
  std::string Text() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

struct Options {
  Level level = Level::kInfo;
  Format format = Format::kJson;
  std::shared_ptr<LogOutput> output;  // null: stderr
};

// Replaces the process's logger settings; returns the previous ones (so a
// test can restore them).
Options Configure(Options options);

// CLOVER_LOG_LEVEL (debug|info|warn|error, default info) and
// CLOVER_LOG_FORMAT (json|text, default json) from the environment, onto
// stderr, then InstallSpdlogBridge(). InvalidArgument naming the variable for
// a bad value (its default then applies).
[[nodiscard]] absl::Status ConfigureFromEnvironment();

// Makes spdlog's default logger write through this logger (level mapped,
// message redacted).
void InstallSpdlogBridge();

bool Enabled(Level level);
void Log(Level level, absl::string_view message, const Fields& fields = {});
inline void Debug(absl::string_view message, const Fields& fields = {}) {
  Log(Level::kDebug, message, fields);
}
inline void Info(absl::string_view message, const Fields& fields = {}) {
  Log(Level::kInfo, message, fields);
}
inline void Warn(absl::string_view message, const Fields& fields = {}) {
  Log(Level::kWarn, message, fields);
}
inline void Error(absl::string_view message, const Fields& fields = {}) {
  Log(Level::kError, message, fields);
}

// Formats one line (no newline) as Log would, at time `unix_millis`.
std::string FormatLine(Format format, int64_t unix_millis, Level level,
                       absl::string_view message, const Fields& fields);

// `text` with what looks like a secret replaced by "[redacted]": the value of
// a `…password=`/`…secret=`/`…token=`/`…key=` pair (libpq DSN or query
// style, quoted or not), the password of a URL's userinfo
// ("scheme://user:[redacted]@host"), the credential after "Bearer ", and
// anything shaped like a JWT (base64url parts joined by two dots, the first
// starting "eyJ").
std::string Redact(absl::string_view text);

}  // namespace clover::logging

#endif  // CLOVER_CORE_LOGGER_H_
