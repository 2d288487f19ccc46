// The API contract (docs/openapi.yaml) against a real node: the routes it
// registers are exactly those the spec lists for it; the validator that the
// e2e suites run on every response (tests/openapi_spec.h) refuses responses
// that break the spec; and the node's lists (access reports, approvals) page
// each item exactly once while new items arrive, refusing forged tokens.
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/test_temp_dir.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gateway/node.h"
#include "gateway_test_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "openapi_spec.h"
#include "rapidjson/document.h"

namespace clover::gateway {
namespace {

using api_spec::ApiSpec;
using ::testing::HasSubstr;

class OpenApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { setup_error_ = new std::string(StartNode()); }
  void SetUp() override { ASSERT_TRUE(setup_error_->empty()) << *setup_error_; }

  static std::string StartNode() {
    tmp_ = new test::TempDir("openapi");
    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    if (!d.ok()) return d.status().ToString();
    auto nodes = PrepareLocalDeployment(*d, tmp_->path() + "/nodes", 0,
                                        FreeLoopbackPort);
    if (!nodes.ok()) return nodes.status().ToString();
    for (LocalNode& n : *nodes) {
      if (n.dc != "ie-dub-1") continue;
      NodeOptions o;
      o.threads = 2;
      auto node = Node::Start(n.deployment, o);
      if (!node.ok()) return node.status().ToString();
      node_ = node->release();
      eu_ = new std::string(n.endpoint);
    }
    if (eu_ == nullptr) return "no ie-dub-1 node";
    return "";
  }

  static void TearDownTestSuite() {
    if (node_ != nullptr) {
      node_->Shutdown();
      delete node_;
    }
    delete tmp_;
  }

  ClientResponse Call(absl::string_view principal, absl::string_view method,
                      const std::string& path, absl::string_view purpose = {},
                      absl::string_view body = {}) {
    return e2e::CallAs(client_, principal, method, *eu_ + path, purpose, body);
  }

  // Walks `path` (with `query`) page by page with `limit`, calling `between`
  // after each page; the items of each page by `ids_of`.
  template <typename Ids, typename Between>
  std::vector<std::string> Walk(absl::string_view principal,
                                const std::string& path,
                                const std::string& query, int limit, Ids ids_of,
                                Between between) {
    std::vector<std::string> out;
    std::string token;
    for (int pages = 0; pages < 1000; ++pages) {
      std::string url = absl::StrCat(path, "?", query, query.empty() ? "" : "&",
                                     "limit=", limit);
      if (!token.empty()) absl::StrAppend(&url, "&page_token=", token);
      ClientResponse r = Call(principal, "GET", url);
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) break;
      rapidjson::Document d = e2e::ParseBody(r.body);
      std::vector<std::string> ids = ids_of(d);
      EXPECT_LE(ids.size(), static_cast<size_t>(limit));
      out.insert(out.end(), ids.begin(), ids.end());
      if (!d.HasMember("next_page_token")) break;
      token = d["next_page_token"].GetString();
      between();
    }
    return out;
  }

  static inline std::string* setup_error_ = nullptr;
  static inline test::TempDir* tmp_ = nullptr;
  static inline Node* node_ = nullptr;
  static inline std::string* eu_ = nullptr;
  HttpClient client_;
};

TEST_F(OpenApiTest, NodeRoutesAreThoseOfTheApiContract) {
  std::set<std::pair<std::string, std::string>> registered;
  for (const auto& r : node_->Routes())
    registered.insert({r.method, r.pattern});
  ASSERT_FALSE(registered.empty());
  std::set<std::pair<std::string, std::string>> required, documented;
  for (const ApiSpec::Route& r : ApiSpec::Default().RoutesFor("node")) {
    documented.insert({r.method, r.pattern});
    if (!r.conditional) required.insert({r.method, r.pattern});
  }
  for (const auto& r : registered) {
    EXPECT_TRUE(documented.contains(r))
        << r.first << " " << r.second
        << " is served but not in docs/openapi.yaml";
  }
  for (const auto& r : required) {
    EXPECT_TRUE(registered.contains(r))
        << r.first << " " << r.second
        << " is in docs/openapi.yaml but the node does not serve it";
  }
}

// The validator is not a rubber stamp: each way a response can break the
// contract is caught.
TEST_F(OpenApiTest, TheValidatorRefusesResponsesThatBreakTheSpec) {
  const ApiSpec& spec = ApiSpec::Default();
  auto headers = [](std::vector<std::pair<std::string, std::string>> h) {
    return [h](absl::string_view name) {
      for (const auto& [k, v] : h) {
        if (k == name) return v;
      }
      return std::string();
    };
  };
  auto none = headers({});
  auto check = [&](absl::string_view method, absl::string_view path, int status,
                   std::string body,
                   std::function<std::string(absl::string_view)> h,
                   absl::string_view type = "application/json") {
    return spec.CheckResponse(method, path, status, type, body, h);
  };
  const std::string ok_read =
      "{\"destination\":\"eu\",\"fields\":{\"email\":{\"effect\":\"deny\"}},"
      "\"log_index\":3,\"policy\":\"p\",\"purpose\":\"x\",\"subject\":\"u1\"}";
  EXPECT_TRUE(
      check("GET", "/v1/subjects/u1?fields=email", 200, ok_read, none).ok());
  EXPECT_TRUE(check("GET", "/healthz", 200, "{\"status\":\"ok\"}", none).ok());
  // A required member missing, a wrong type, a value outside an enum.
  EXPECT_FALSE(check("GET", "/v1/subjects/u1", 200,
                     "{\"destination\":\"eu\",\"fields\":{}}", none)
                   .ok());
  EXPECT_FALSE(check("GET", "/v1/subjects/u1", 200,
                     absl::StrReplaceAll(ok_read, {{"3", "\"3\""}}), none)
                   .ok());
  EXPECT_FALSE(check("GET", "/v1/subjects/u1", 200,
                     absl::StrReplaceAll(ok_read, {{"deny", "maybe"}}), none)
                   .ok());
  EXPECT_FALSE(
      check("GET", "/healthz", 200, "{\"status\":\"fine\"}", none).ok());
  // A status the route does not document; a path the spec does not have.
  EXPECT_FALSE(check("GET", "/healthz", 500, "{}", none).ok());
  EXPECT_FALSE(check("GET", "/v2/anything", 200, "{}", none).ok());
  // An error code outside the vocabulary (the old synonyms included).
  for (const char* code : {"bad_request", "forbidden", "body_too_large"}) {
    EXPECT_FALSE(check("GET", "/v1/subjects/u1", 403,
                       absl::StrCat("{\"error\":{\"code\":\"", code,
                                    "\",\"message\":\"m\"}}"),
                       none)
                     .ok())
        << code;
  }
  EXPECT_TRUE(check("GET", "/v1/subjects/u1", 403,
                    "{\"error\":{\"code\":\"permission_denied\",\"message\":"
                    "\"m\",\"log_index\":4}}",
                    none)
                  .ok());
  // A 503 or 429 without Retry-After.
  const std::string unavailable =
      "{\"error\":{\"code\":\"unavailable\",\"message\":\"m\"}}";
  EXPECT_FALSE(check("GET", "/v1/subjects/u1", 503, unavailable, none).ok());
  EXPECT_TRUE(check("GET", "/v1/subjects/u1", 503, unavailable,
                    headers({{"retry-after", "2"}}))
                  .ok());
  EXPECT_FALSE(check("POST", "/v1/aggregates", 429, unavailable, none).ok());
  // A body that is not JSON, or a media type the route does not answer.
  EXPECT_FALSE(check("GET", "/healthz", 200, "ok", none).ok());
  EXPECT_FALSE(check("GET", "/healthz", 200, "ok", none, "text/plain").ok());
  // A page token that is not base64url.
  EXPECT_TRUE(check("GET", "/v1/approvals", 200,
                    "{\"approvals\":[],\"next_page_token\":\"Ab-_9\"}", none)
                  .ok());
  // (pattern is an annotation in the validator's subset; the type is not)
  EXPECT_FALSE(check("GET", "/v1/approvals", 200,
                     "{\"approvals\":[],\"next_page_token\":7}", none)
                   .ok());
  // The router's own answers: 404 unknown path, 405 known path.
  EXPECT_TRUE(check("GET", "/nope", 404,
                    "{\"error\":{\"code\":\"not_found\",\"message\":\"m\"}}",
                    none)
                  .ok());
  // A real answer of the node passes (CallAs checks it too).
  ClientResponse real = Call("", "GET", "/healthz");
  EXPECT_TRUE(check(
                  "GET", "/healthz", real.status, real.body,
                  [&real](absl::string_view n) { return real.Header(n); },
                  real.content_type)
                  .ok());
  EXPECT_FALSE(real.Header("x-request-id").empty());
}

TEST_F(OpenApiTest, AccessReportPagesEachEntryOnceWhileReadsContinue) {
  ASSERT_EQ(
      Call("accounts-eu", "PUT", "/v1/subjects/paged", "account_management",
           "{\"country\":\"IE\",\"fields\":{\"email\":\"p@mail.example\"}}")
          .status,
      201);
  for (int i = 0; i < 17; ++i) {
    ASSERT_EQ(Call("eu-support-1", "GET", "/v1/subjects/paged?fields=email",
                   "customer_support")
                  .status,
              200);
  }
  auto indices = [](const rapidjson::Document& d) {
    std::vector<std::string> out;
    for (const auto& e : d["entries"].GetArray())
      out.push_back(absl::StrCat(e["index"].GetUint64()));
    return out;
  };
  // The whole report of before the walk (limit 1000: one page).
  ClientResponse whole =
      Call("auditor", "GET", "/v1/subjects/paged/access-report?limit=1000");
  ASSERT_EQ(whole.status, 200) << whole.body;
  rapidjson::Document all = e2e::ParseBody(whole.body);
  EXPECT_FALSE(all.HasMember("next_page_token"));
  const std::vector<std::string> before = indices(all);
  ASSERT_GE(before.size(), 18u);
  int reads = 0;
  std::vector<std::string> walked =
      Walk("auditor", "/v1/subjects/paged/access-report", "", 4, indices, [&] {
        ++reads;
        EXPECT_EQ(Call("eu-support-1", "GET", "/v1/subjects/paged?fields=email",
                       "customer_support")
                      .status,
                  200);
      });
  std::multiset<std::string> seen(walked.begin(), walked.end());
  for (const std::string& i : before) EXPECT_EQ(seen.count(i), 1u) << i;
  for (const std::string& i : seen) EXPECT_EQ(seen.count(i), 1u) << i;
  EXPECT_GE(reads, 5);
  // Ascending log indices across pages.
  for (size_t i = 1; i < walked.size(); ++i) {
    EXPECT_LT(std::stoull(walked[i - 1]), std::stoull(walked[i]));
  }
  // Without paging parameters the default page (100) holds them all.
  ClientResponse plain =
      Call("auditor", "GET", "/v1/subjects/paged/access-report");
  EXPECT_THAT(plain.body, ::testing::Not(HasSubstr("next_page_token")));

  // Forged, altered, or another subject's token: 400 invalid_argument.
  ClientResponse first =
      Call("auditor", "GET", "/v1/subjects/paged/access-report?limit=1");
  rapidjson::Document d = e2e::ParseBody(first.body);
  ASSERT_TRUE(d.HasMember("next_page_token")) << first.body;
  std::string token = d["next_page_token"].GetString();
  std::string altered = token;
  altered.back() = altered.back() == 'A' ? 'B' : 'A';
  for (const std::string& url : std::vector<std::string>{
           "/v1/subjects/paged/access-report?page_token=" + altered,
           "/v1/subjects/eu-0/access-report?page_token=" + token,
           "/v1/subjects/paged/"
           "access-report?page_token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
           "/v1/subjects/paged/access-report?limit=0",
           "/v1/subjects/paged/access-report?limit=x"}) {
    ClientResponse r = Call("auditor", "GET", url);
    EXPECT_EQ(r.status, 400) << url << " " << r.body;
    EXPECT_EQ(e2e::ErrorCodeOf(r), "invalid_argument") << url;
  }
}

TEST_F(OpenApiTest, ApprovalsPageEachOnceWhileRequestsAreFiled) {
  auto file = [this](int n) {
    ClientResponse r =
        Call("us-legal-1", "POST", "/v1/approvals", {},
             absl::StrCat(
                 "{\"justification\":\"LEGAL_REQUEST\",\"detail\":\"CASE-", n,
                 "\",\"subjects\":[\"eu-", n, "\"],\"fields\":[\"email\"]}"));
    EXPECT_EQ(r.status, 201) << r.body;
  };
  for (int i = 0; i < 11; ++i) file(i);
  auto ids = [](const rapidjson::Document& d) {
    std::vector<std::string> out;
    for (const auto& a : d["approvals"].GetArray())
      out.push_back(a["id"].GetString());
    return out;
  };
  ClientResponse whole = Call("auditor", "GET", "/v1/approvals?state=pending");
  ASSERT_EQ(whole.status, 200) << whole.body;
  const std::vector<std::string> before = ids(e2e::ParseBody(whole.body));
  ASSERT_EQ(before.size(), 11u);
  int filed = 11;
  std::vector<std::string> walked =
      Walk("auditor", "/v1/approvals", "state=pending", 3, ids,
           [&] { file(filed++); });
  std::multiset<std::string> seen(walked.begin(), walked.end());
  for (const std::string& id : before) EXPECT_EQ(seen.count(id), 1u) << id;
  for (const std::string& id : seen) EXPECT_EQ(seen.count(id), 1u) << id;
  EXPECT_GE(filed, 14);
  // The filer sees its own, paged the same way; a token is bound to the
  // caller and the filter.
  ClientResponse own = Call("us-legal-1", "GET", "/v1/approvals?limit=2");
  rapidjson::Document d = e2e::ParseBody(own.body);
  ASSERT_TRUE(d.HasMember("next_page_token")) << own.body;
  const std::string token = d["next_page_token"].GetString();
  EXPECT_EQ(
      Call("us-legal-1", "GET", "/v1/approvals?page_token=" + token).status,
      200);
  EXPECT_EQ(Call("auditor", "GET", "/v1/approvals?page_token=" + token).status,
            400);
  EXPECT_EQ(Call("us-legal-1", "GET",
                 "/v1/approvals?state=pending&page_token=" + token)
                .status,
            400);
}

}  // namespace
}  // namespace clover::gateway
