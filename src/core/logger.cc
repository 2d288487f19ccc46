#include "core/logger.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/canonical_json.h"
#include "core/rfc3339.h"
#include "spdlog/sinks/base_sink.h"
#include "spdlog/spdlog.h"

namespace clover::logging {

namespace {

struct State {
  absl::Mutex mu;
  Options options ABSL_GUARDED_BY(mu);
  std::atomic<int> level{static_cast<int>(Level::kInfo)};
};

State& GlobalState() {
  static State* state = [] {
    auto* s = new State;
    absl::MutexLock lock(&s->mu);
    s->options.output = std::make_shared<StderrLogOutput>();
    return s;
  }();
  return *state;
}

bool IsBase64Url(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '_';
}

// Length of a JWT-shaped run at `s` (eyJ... . ... . ...), 0 if none.
size_t JwtLength(absl::string_view s) {
  if (!absl::StartsWith(s, "eyJ")) return 0;
  size_t i = 0;
  int dots = 0;
  while (i < s.size() && (IsBase64Url(s[i]) || s[i] == '.' || s[i] == '=')) {
    if (s[i] == '.') ++dots;
    ++i;
  }
  return dots >= 2 ? i : 0;
}

bool IsSecretKey(absl::string_view key) {
  std::string k = absl::AsciiStrToLower(key);
  return absl::EndsWith(k, "password") || absl::EndsWith(k, "secret") ||
         absl::EndsWith(k, "token") || k == "passwd" || k == "pin" ||
         absl::EndsWith(k, "key");
}

}  // namespace

absl::StatusOr<Level> ParseLevel(absl::string_view text) {
  std::string t = absl::AsciiStrToLower(text);
  if (t == "debug") return Level::kDebug;
  if (t == "info") return Level::kInfo;
  if (t == "warn" || t == "warning") return Level::kWarn;
  if (t == "error") return Level::kError;
  return absl::InvalidArgumentError(
      "log level must be one of debug, info, warn, error");
}

absl::StatusOr<Format> ParseFormat(absl::string_view text) {
  std::string t = absl::AsciiStrToLower(text);
  if (t == "json") return Format::kJson;
  if (t == "text") return Format::kText;
  return absl::InvalidArgumentError("log format must be json or text");
}

absl::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

Field::Field(absl::string_view key, double value)
    : key_(key), text_(absl::StrFormat("%.6g", value)), quoted_(false) {
  // JSON has no NaN or infinities.
  if (text_.find_first_not_of("0123456789+-.e") != std::string::npos) {
    text_ = "null";
  }
}

void StderrLogOutput::Write(absl::string_view line) {
  std::string buf;
  buf.reserve(line.size() + 1);
  buf.append(line.data(), line.size());
  buf.push_back('\n');
  const char* p = buf.data();
  size_t left = buf.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report it
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void MemoryLogOutput::Write(absl::string_view line) {
  absl::MutexLock lock(&mu_);
  lines_.emplace_back(line);
}

std::vector<std::string> MemoryLogOutput::Lines() const {
  absl::MutexLock lock(&mu_);
  return lines_;
}

std::string MemoryLogOutput::Text() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const std::string& l : lines_) absl::StrAppend(&out, l, "\n");
  return out;
}

Options Configure(Options options) {
  State& s = GlobalState();
  if (options.output == nullptr) {
    options.output = std::make_shared<StderrLogOutput>();
  }
  absl::MutexLock lock(&s.mu);
  s.level.store(static_cast<int>(options.level), std::memory_order_relaxed);
  std::swap(s.options, options);
  return options;
}

absl::Status ConfigureFromEnvironment() {
  Options options;
  absl::Status status;
  if (const char* v = std::getenv("CLOVER_LOG_LEVEL"); v != nullptr && *v) {
    absl::StatusOr<Level> level = ParseLevel(v);
    if (level.ok()) {
      options.level = *level;
    } else {
      status = absl::InvalidArgumentError(
          absl::StrCat("CLOVER_LOG_LEVEL: ", level.status().message()));
    }
  }
  if (const char* v = std::getenv("CLOVER_LOG_FORMAT"); v != nullptr && *v) {
    absl::StatusOr<Format> format = ParseFormat(v);
    if (format.ok()) {
      options.format = *format;
    } else if (status.ok()) {
      status = absl::InvalidArgumentError(
          absl::StrCat("CLOVER_LOG_FORMAT: ", format.status().message()));
    }
  }
  Configure(std::move(options));
  InstallSpdlogBridge();
  return status;
}

bool Enabled(Level level) {
  return static_cast<int>(level) >=
         GlobalState().level.load(std::memory_order_relaxed);
}

std::string FormatLine(Format format, int64_t unix_millis, Level level,
                       absl::string_view message, const Fields& fields) {
  std::string time = FormatRfc3339Millis(absl::FromUnixMillis(unix_millis));
  std::string line;
  line.reserve(96 + message.size() + fields.size() * 24);
  if (format == Format::kText) {
    absl::StrAppend(&line, time, " ", absl::AsciiStrToUpper(LevelName(level)),
                    " ");
    // Control characters escaped: a line stays one line.
    for (char c : Redact(message)) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        absl::StrAppend(&line, absl::StrFormat("\\x%02x", static_cast<int>(c)));
      } else {
        line.push_back(c);
      }
    }
    for (const Field& f : fields) {
      absl::StrAppend(&line, " ", f.key(), "=");
      if (!f.quoted()) {
        absl::StrAppend(&line, f.text());
        continue;
      }
      std::string v = Redact(f.text());
      bool quote = v.empty();
      for (char c : v) {
        quote = quote || static_cast<unsigned char>(c) <= 0x20 || c == '"' ||
                c == '=' || c == 0x7f;
      }
      if (quote) {
        AppendJsonString(v, &line);
      } else {
        line += v;
      }
    }
    return line;
  }
  line += "{\"time\":\"";
  line += time;
  line += "\",\"level\":\"";
  absl::StrAppend(&line, LevelName(level));
  line += "\",\"message\":";
  AppendJsonString(Redact(message), &line);
  for (const Field& f : fields) {
    if (f.key() == "time" || f.key() == "level" || f.key() == "message") {
      continue;  // the fixed keys stay unique
    }
    line.push_back(',');
    AppendJsonString(f.key(), &line);
    line.push_back(':');
    if (f.quoted()) {
      AppendJsonString(
          IsSecretKey(f.key()) ? std::string("[redacted]") : Redact(f.text()),
          &line);
    } else {
      absl::StrAppend(&line, f.text());
    }
  }
  line.push_back('}');
  return line;
}

void Log(Level level, absl::string_view message, const Fields& fields) {
  if (!Enabled(level)) return;
  State& s = GlobalState();
  const int64_t now = absl::ToUnixMillis(absl::Now());
  absl::MutexLock lock(&s.mu);
  s.options.output->Write(
      FormatLine(s.options.format, now, level, message, fields));
}

std::string Redact(absl::string_view text) {
  constexpr absl::string_view kRedacted = "[redacted]";
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    absl::string_view rest = text.substr(i);
    // JWT-shaped runs at a word boundary.
    if (rest[0] == 'e' && (i == 0 || !IsBase64Url(text[i - 1]))) {
      if (size_t n = JwtLength(rest); n > 0) {
        absl::StrAppend(&out, kRedacted);
        i += n;
        continue;
      }
    }
    // "Bearer <credential>": credentials are long; prose ("the bearer
    // token is not valid") is left alone.
    if (absl::StartsWithIgnoreCase(rest, "bearer ")) {
      size_t j = 7;
      while (j < rest.size() && rest[j] == ' ') ++j;
      size_t k = j;
      while (k < rest.size() && rest[k] != ' ' && rest[k] != '"' &&
             rest[k] != ',' && rest[k] != '\'') {
        ++k;
      }
      if (k - j >= 12) {
        absl::StrAppend(&out, rest.substr(0, j), kRedacted);
        i += k;
        continue;
      }
    }
    // key=value with a secret-looking key (libpq DSNs, query strings).
    if (rest[0] == '=' && !out.empty()) {
      size_t start = out.size();
      while (start > 0 &&
             (absl::ascii_isalnum(static_cast<unsigned char>(out[start - 1])) ||
              out[start - 1] == '_')) {
        --start;
      }
      absl::string_view key(out.data() + start, out.size() - start);
      if (!key.empty() && IsSecretKey(key)) {
        out.push_back('=');
        size_t j = 1;
        if (j < rest.size() && (rest[j] == '\'' || rest[j] == '"')) {
          const char quote = rest[j];
          ++j;
          while (j < rest.size() && rest[j] != quote) {
            if (rest[j] == '\\' && j + 1 < rest.size()) ++j;
            ++j;
          }
          if (j < rest.size()) ++j;
        } else {
          while (j < rest.size() && rest[j] != ' ' && rest[j] != '&' &&
                 rest[j] != ',' && rest[j] != '"' && rest[j] != ';') {
            ++j;
          }
        }
        absl::StrAppend(&out, kRedacted);
        i += j;
        continue;
      }
    }
    // scheme://user:password@host
    if (absl::StartsWith(rest, "://")) {
      size_t end = rest.find_first_of(" /\"'", 3);
      absl::string_view authority = rest.substr(
          3,
          end == absl::string_view::npos ? absl::string_view::npos : end - 3);
      size_t at = authority.rfind('@');
      size_t colon = authority.find(':');
      if (at != absl::string_view::npos && colon != absl::string_view::npos &&
          colon < at) {
        absl::StrAppend(&out, "://", authority.substr(0, colon + 1), kRedacted);
        i += 3 + at;
        continue;
      }
    }
    out.push_back(rest[0]);
    ++i;
  }
  return out;
}

namespace {

class BridgeSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    Level level = Level::kInfo;
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug:
        level = Level::kDebug;
        break;
      case spdlog::level::info:
        level = Level::kInfo;
        break;
      case spdlog::level::warn:
        level = Level::kWarn;
        break;
      default:
        level = Level::kError;
        break;
    }
    Log(level, absl::string_view(msg.payload.data(), msg.payload.size()));
  }
  void flush_() override {}
};

}  // namespace

void InstallSpdlogBridge() {
  auto logger = std::make_shared<spdlog::logger>(
      "clover", std::make_shared<BridgeSink>());
  // The level is this logger's to filter.
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace clover::logging
