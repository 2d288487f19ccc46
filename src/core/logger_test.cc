#include "core/logger.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/spdlog.h"

namespace clover::logging {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Captures the process's log for one test and restores it afterwards.
class Capture {
 public:
  explicit Capture(Level level = Level::kDebug, Format format = Format::kJson)
      : out_(std::make_shared<MemoryLogOutput>()),
        saved_(Configure({level, format, out_})) {}
  ~Capture() { Configure(saved_); }
  std::string Text() const { return out_->Text(); }
  std::vector<std::string> Lines() const { return out_->Lines(); }

 private:
  std::shared_ptr<MemoryLogOutput> out_;
  Options saved_;
};

TEST(LoggerTest, JsonLineHasTimeLevelMessageAndTypedFields) {
  EXPECT_EQ(
      FormatLine(Format::kJson, 1733490187123, Level::kWarn, "disk \"slow\"",
                 {{"route", "/v1/subjects/{id}"},
                  {"status", 503},
                  {"latency_ms", 1.5},
                  {"tls", true}}),
      "{\"time\":\"2024-12-06T13:03:07.123Z\",\"level\":\"warn\","
      "\"message\":\"disk \\\"slow\\\"\",\"route\":\"/v1/subjects/{id}\","
      "\"status\":503,\"latency_ms\":1.5,\"tls\":true}");
}

TEST(LoggerTest, FixedKeysCannotBeOverriddenByFields) {
  std::string line = FormatLine(Format::kJson, 0, Level::kInfo, "m",
                                {{"level", "error"}, {"message", "x"}});
  EXPECT_EQ(line,
            "{\"time\":\"1970-01-01T00:00:00.000Z\",\"level\":\"info\","
            "\"message\":\"m\"}");
}

TEST(LoggerTest, TextFormat) {
  EXPECT_EQ(FormatLine(Format::kText, 0, Level::kError, "boom",
                       {{"cause", "a b"}, {"status", 500}}),
            "1970-01-01T00:00:00.000Z ERROR boom cause=\"a b\" status=500");
}

TEST(LoggerTest, ALineStaysOneLine) {
  EXPECT_EQ(FormatLine(Format::kText, 0, Level::kInfo, "a\nb", {{"k", "x\ny"}}),
            "1970-01-01T00:00:00.000Z INFO a\\x0ab k=\"x\\ny\"");
  EXPECT_EQ(FormatLine(Format::kJson, 0, Level::kInfo, "a\nb", {}),
            "{\"time\":\"1970-01-01T00:00:00.000Z\",\"level\":\"info\","
            "\"message\":\"a\\nb\"}");
}

TEST(LoggerTest, LevelFilters) {
  Capture capture(Level::kWarn);
  Info("quiet");
  Warn("loud", {{"n", 1}});
  ASSERT_EQ(capture.Lines().size(), 1u);
  EXPECT_THAT(capture.Lines()[0], HasSubstr("\"message\":\"loud\",\"n\":1"));
}

TEST(LoggerTest, ParsesLevelAndFormat) {
  EXPECT_EQ(*ParseLevel("WARNING"), Level::kWarn);
  EXPECT_EQ(*ParseFormat("text"), Format::kText);
  EXPECT_FALSE(ParseLevel("loud").ok());
  EXPECT_FALSE(ParseFormat("xml").ok());
}

TEST(LoggerTest, RedactsSecretsInMessagesAndFields) {
  const std::string jwt =
      "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl";
  EXPECT_EQ(Redact("host=db port=5432 password=hunter2 user=clover"),
            "host=db port=5432 password=[redacted] user=clover");
  EXPECT_EQ(Redact("password='a b c' dbname=x"),
            "password=[redacted] dbname=x");
  EXPECT_EQ(Redact("postgresql://clover:s3cr3t@db:5432/clover"),
            "postgresql://clover:[redacted]@db:5432/clover");
  EXPECT_EQ(Redact("Authorization: Bearer clv_abc.def-0123456789"),
            "Authorization: Bearer [redacted]");
  EXPECT_EQ(Redact("the bearer token is not valid"),
            "the bearer token is not valid");
  EXPECT_EQ(Redact("token " + jwt + " refused"), "token [redacted] refused");
  EXPECT_EQ(Redact("nothing to hide here: a=b"), "nothing to hide here: a=b");
  std::string line =
      FormatLine(Format::kJson, 0, Level::kInfo, "dsn password=hunter2",
                 {{"api_token", "plain-secret"}, {"cause", jwt}});
  EXPECT_THAT(line, Not(HasSubstr("hunter2")));
  EXPECT_THAT(line, Not(HasSubstr("plain-secret")));
  EXPECT_THAT(line, Not(HasSubstr(jwt.substr(20))));
}

TEST(LoggerTest, SpdlogCallsComeOutAsJsonLines) {
  Capture capture(Level::kInfo);
  InstallSpdlogBridge();
  spdlog::info("hello {}", "world");
  spdlog::debug("hidden");
  spdlog::error("with password=hunter2");
  std::vector<std::string> lines = capture.Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr("\"level\":\"info\",\"message\":\"hello "
                                  "world\"}"));
  EXPECT_THAT(lines[1], HasSubstr("\"level\":\"error\""));
  EXPECT_THAT(capture.Text(), Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace clover::logging
