#include "audit/json_util.h"

#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace clover::audit {
namespace {

TEST(AuditJsonTest, ObjectsWithDuplicateKeysAreRefusedAtAnyDepth) {
  rapidjson::Document d;
  EXPECT_TRUE(ParseJsonObject(R"({"by":"a","note":{"x":1}})", d, "body").ok());
  for (const char* body :
       {R"({"by":"a","by":"b"})", R"({"note":{"x":1,"x":2}})",
        R"({"list":[{"k":1,"k":1}]})"}) {
    absl::Status s = ParseJsonObject(body, d, "body");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << body;
    EXPECT_NE(s.message().find("duplicate key"), absl::string_view::npos)
        << s.message();
  }
}

}  // namespace
}  // namespace clover::audit
