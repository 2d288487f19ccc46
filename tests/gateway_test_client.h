// What the gateway's loopback test suites share: a request as one of the
// example principals (its published API key) naming a purpose, and reading
// the JSON bodies that come back.
#ifndef CLOVER_TESTS_GATEWAY_TEST_CLIENT_H_
#define CLOVER_TESTS_GATEWAY_TEST_CLIENT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gtest/gtest.h"
#include "openapi_spec.h"
#include "rapidjson/document.h"

namespace clover::gateway::e2e {

// Checks a response from a node against docs/openapi.yaml (its status is
// documented for the route, its JSON body valid against the schema, its
// required headers present): every call through CallAs does.
inline void ExpectMatchesApiSpec(absl::string_view method,
                                 absl::string_view url,
                                 const ClientResponse& r) {
  // The target after "scheme://host:port".
  absl::string_view target = url;
  if (size_t scheme = target.find("://"); scheme != absl::string_view::npos) {
    target.remove_prefix(scheme + 3);
    size_t slash = target.find('/');
    target = slash == absl::string_view::npos ? "/" : target.substr(slash);
  }
  absl::Status s = api_spec::CheckApiResponse(
      method, target, r.status, r.content_type, r.body,
      [&r](absl::string_view name) { return r.Header(name); });
  EXPECT_TRUE(s.ok()) << s.message();
}

// Sends `method url` as `principal` ("" for no credential) with `purpose`
// ("" for none) and `headers`; a body goes as JSON unless `headers` name a
// Content-Type. A transport failure fails the calling test and returns an
// empty response (status 0).
inline ClientResponse CallAs(HttpClient& client, absl::string_view principal,
                             absl::string_view method, const std::string& url,
                             absl::string_view purpose,
                             absl::string_view body = {},
                             std::vector<std::string> headers = {}) {
  if (!principal.empty())
    headers.push_back("Authorization: Bearer " + ExampleApiKey(principal));
  if (!purpose.empty())
    headers.push_back(absl::StrCat("X-Clover-Purpose: ", purpose));
  auto r = client.Send(method, url, headers, body);
  EXPECT_TRUE(r.ok()) << r.status();
  if (r.ok()) ExpectMatchesApiSpec(method, url, *r);
  return r.ok() ? *r : ClientResponse{};
}

inline rapidjson::Document ParseBody(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  return doc;
}

// The error code of a {"error":{"code":…}} body, or "<no error body>".
inline std::string ErrorCodeOf(const ClientResponse& r) {
  rapidjson::Document doc = ParseBody(r.body);
  if (!doc.IsObject() || !doc.HasMember("error") || !doc["error"].IsObject() ||
      !doc["error"].HasMember("code") || !doc["error"]["code"].IsString()) {
    return "<no error body>";
  }
  return doc["error"]["code"].GetString();
}

}  // namespace clover::gateway::e2e

#endif  // CLOVER_TESTS_GATEWAY_TEST_CLIENT_H_
