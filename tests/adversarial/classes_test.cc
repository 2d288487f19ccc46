// The adversarial suite's attack classes (issue 17): HTTP framing and
// smuggling, pipelining, a flood of idle connections, unauthorised writes,
// aggregates (cohort, grouping, budget), detokenisation bound to the token's
// field, input validation (purposes, field lists, duplicate JSON keys, content
// types), unknown methods and the metrics they could grow, approval bounds,
// grants, revocation and exports under a grant, authentication before
// residency, logged existence checks, and error bodies. Each test also gets
// the suite's global checks (no raw restricted value to a non-EU principal, no
// 5xx, well-formed errors without internals) from AdversarialTest::TearDown.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "adversarial/adversarial_node.h"
#include "gmock/gmock.h"
#include "rapidjson/document.h"

namespace clover::adversarial {
namespace {

using ::testing::AnyOf;
using ::testing::Eq;
using ::testing::HasSubstr;

// The raw value a reader sees for `field` in a GET /v1/subjects answer, or
// empty.
std::string FieldValue(const Response& r, const char* field) {
  rapidjson::Document doc;
  doc.Parse(r.body.c_str(), r.body.size());
  if (!doc.IsObject() || !doc.HasMember("fields") ||
      !doc["fields"].IsObject() || !doc["fields"].HasMember(field)) {
    return "";
  }
  const auto& f = doc["fields"][field];
  if (!f.IsObject() || !f.HasMember("value") || !f["value"].IsString())
    return "";
  return f["value"].GetString();
}

std::string StringMember(const Response& r, const char* path1,
                         const char* path2 = nullptr) {
  rapidjson::Document doc;
  doc.Parse(r.body.c_str(), r.body.size());
  if (!doc.IsObject() || !doc.HasMember(path1)) return "";
  const rapidjson::Value* v = &doc[path1];
  if (path2 != nullptr) {
    if (!v->IsObject() || !v->HasMember(path2)) return "";
    v = &(*v)[path2];
  }
  return v->IsString() ? v->GetString() : "";
}

class AttackTest : public AdversarialTest {
 protected:
  // A valid siv token of adv-ie-0's name, issued to trust and safety (eu,
  // trust_safety), as a JSON body member list for /v1/detokenize.
  std::string NameTokenMembers() {
    Response read =
        Call("token source", "GET", "/v1/subjects/adv-ie-0?fields=name",
             "eu-tns-1", {.purpose = "trust_safety"});
    std::string token = FieldValue(read, "name");
    EXPECT_TRUE(absl::StartsWith(token, "stk_")) << read.body;
    return absl::StrCat("\"token\":\"", token,
                        "\",\"issued_destination\":\"eu\","
                        "\"issued_purpose\":\"trust_safety\"");
  }
};

// --- HTTP framing ---

TEST_F(AttackTest, SmugglingAttemptsGetOne400AndTheConnectionCloses) {
  // The hidden request would read a subject raw with EU support's key.
  const std::string hidden =
      absl::StrCat("GET /v1/subjects/adv-ie-0 HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                   AuthHeader("eu-support-1"),
                   "\r\nX-Clover-Purpose: customer_support\r\n\r\n");
  const std::string head =
      "POST /v1/exports HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Type: application/json\r\n";
  const std::string chunked_then_hidden = absl::StrCat("0\r\n\r\n", hidden);
  struct Attempt {
    const char* name;
    std::string bytes;
  };
  const std::vector<Attempt> attempts = {
      {"Transfer-Encoding: chunked, identity",
       absl::StrCat(head, "Transfer-Encoding: chunked, identity\r\n\r\n",
                    hidden)},
      {"Transfer-Encoding: xchunked",
       absl::StrCat(head, "Transfer-Encoding: xchunked\r\n\r\n", hidden)},
      {"Transfer-Encoding: identity",
       absl::StrCat(head, "Transfer-Encoding: identity\r\n\r\n", hidden)},
      {"two Transfer-Encoding headers",
       absl::StrCat(head,
                    "Transfer-Encoding: chunked\r\nTransfer-Encoding: "
                    "identity\r\n\r\n",
                    hidden)},
      {"Transfer-Encoding with Content-Length",
       absl::StrCat(head, "Transfer-Encoding: chunked\r\nContent-Length: ",
                    chunked_then_hidden.size(), "\r\n\r\n",
                    chunked_then_hidden)},
      {"Content-Length with Transfer-Encoding",
       absl::StrCat(head, "Content-Length: ", chunked_then_hidden.size(),
                    "\r\nTransfer-Encoding: chunked\r\n\r\n",
                    chunked_then_hidden)},
      {"obs-fold",
       absl::StrCat(head, "X-Adv: a\r\n folded\r\nContent-Length: 0\r\n\r\n",
                    hidden)},
      {"obs-fold of Transfer-Encoding",
       absl::StrCat(head, "Transfer-Encoding:\r\n chunked\r\n\r\n",
                    chunked_then_hidden)},
      {"duplicate Content-Length",
       absl::StrCat(head, "Content-Length: 0\r\nContent-Length: ",
                    hidden.size(), "\r\n\r\n", hidden)},
  };
  for (const Attempt& a : attempts) {
    // Alone on a fresh connection, and behind a valid keep-alive request
    // (which must still be answered, once).
    RawExchange behind = RawSend(
        port_, absl::StrCat("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                            a.bytes));
    for (const Response& r : behind.responses) {
      Check(absl::StrCat("smuggling behind a valid request: ", a.name), "", r,
            /*scan=*/true);
    }
    ASSERT_GE(behind.responses.size(), 1u) << a.name;
    EXPECT_EQ(behind.responses[0].status, 200) << a.name;
    EXPECT_EQ(behind.responses.size(), 2u)
        << a.name << " behind a valid request: " << behind.responses.size()
        << " responses (want 200, then 400)";
    if (behind.responses.size() >= 2) {
      EXPECT_EQ(behind.responses[1].status, 400) << a.name;
    }
    EXPECT_TRUE(behind.closed) << a.name << " behind a valid request";

    RawExchange ex = RawSend(port_, a.bytes);
    for (const Response& r : ex.responses) {
      Check(absl::StrCat("smuggling: ", a.name), "", r, /*scan=*/true);
    }
    ASSERT_FALSE(ex.responses.empty()) << a.name << ": no response";
    EXPECT_EQ(ex.responses.size(), 1u)
        << a.name << ": the body was executed as a second request (desync); "
        << "statuses " << ex.responses[0].status << ", "
        << ex.responses.back().status;
    EXPECT_EQ(ex.responses[0].status, 400)
        << a.name << ": " << ex.responses[0].body;
    EXPECT_TRUE(ex.closed) << a.name
                           << ": the connection stayed open after the 400";
  }
}

TEST_F(AttackTest, PipelinedRequestsAreAnsweredInOrder) {
  const std::string body = "{\"field\":\"birthdate\"}";
  RawExchange ex = RawSend(
      port_, absl::StrCat("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                          "POST /v1/aggregates HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                          AuthHeader("cn-engineer-1"),
                          "\r\nX-Clover-Purpose: analytics\r\nContent-Type: "
                          "application/json\r\nContent-Length: ",
                          body.size(), "\r\n\r\n", body,
                          "GET /readyz HTTP/1.1\r\nHost: "
                          "127.0.0.1\r\nConnection: close\r\n\r\n"));
  for (const Response& r : ex.responses) Check("pipelined", "", r, true);
  ASSERT_EQ(ex.responses.size(), 3u) << "pipelined requests lost or merged";
  EXPECT_EQ(ex.responses[0].status, 200);
  EXPECT_THAT(ex.responses[0].body, HasSubstr("\"ok\""));
  EXPECT_THAT(ex.responses[1].status, AnyOf(Eq(400), Eq(403)));
  EXPECT_EQ(ex.responses[2].status, 200);
  EXPECT_THAT(ex.responses[2].body, HasSubstr("\"ready\""));
  EXPECT_TRUE(ex.closed);
}

TEST_F(AttackTest, IdleConnectionsPerNodeAreCapped) {
  // 2,000 connections that never send a byte: a node holding them all would
  // hold them until its idle timeout, and more until it runs out of files.
  constexpr int kConnections = 2000;
  std::vector<pollfd> fds;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < kConnections; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ASSERT_GE(fd, 0) << "socket " << i;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
        errno != EINPROGRESS) {
      close(fd);  // refused outright: capped too
      continue;
    }
    fds.push_back({fd, POLLIN | POLLRDHUP, 0});
  }
  int refused = kConnections - static_cast<int>(fds.size());
  int closed = 0;
  absl::Time deadline = absl::Now() + absl::Seconds(3);
  while (absl::Now() < deadline && refused + closed < kConnections) {
    if (poll(fds.data(), fds.size(), 100) <= 0) continue;
    for (pollfd& p : fds) {
      if (p.fd < 0 || p.revents == 0) continue;
      char c;
      ssize_t n = recv(p.fd, &c, 1, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        ++closed;
        close(p.fd);
        p.fd = -1;
      }
    }
  }
  for (pollfd& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  std::cerr << kConnections << " idle connections: " << refused << " refused, "
            << closed << " closed by the node\n";
  EXPECT_GT(refused + closed, 0) << "the node held all " << kConnections
                                 << " idle connections open: no connection cap";
  // Once they are gone the node serves again.
  Response r;
  for (int i = 0; i < 50; ++i) {
    r = Call("after the flood", "GET", "/healthz", "");
    if (r.status == 200) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(r.status, 200) << "the node did not recover from the flood";
}

// --- writes ---

TEST_F(AttackTest, WritesByPrincipalsWithoutAWriteRuleAreRefused) {
  const Subject& victim = subject("adv-ie-1");
  for (const char* p : {"cn-engineer-1", "us-recommender"}) {
    for (const char* u : {"service_operation", "account_management",
                          "customer_support", "recommendation"}) {
      std::string what = absl::StrCat(p, " for ", u);
      Response put =
          Call("replace with an empty record", "PUT", "/v1/subjects/adv-ie-1",
               p, {.purpose = u, .body = R"({"country":"DE","fields":{}})"});
      EXPECT_EQ(put.status, 403)
          << what << ": PUT /v1/subjects/adv-ie-1 {} answered " << put.status
          << " " << put.body;
      Response after = Call("read back", "GET", "/v1/subjects/adv-ie-1",
                            "eu-support-1", {.purpose = "customer_support"});
      EXPECT_EQ(after.status, 200) << after.body;
      EXPECT_EQ(FieldValue(after, "email"), victim.email)
          << what << ": the refused write changed the record: " << after.body;

      std::string fresh = absl::StrCat("adv-new-", p, "-", u);
      Response create =
          Call("create", "PUT", "/v1/subjects/" + fresh, p,
               {.purpose = u, .body = R"({"country":"DE","fields":{}})"});
      EXPECT_EQ(create.status, 403)
          << what << ": PUT /v1/subjects/" << fresh << " answered "
          << create.status << " " << create.body;
      Response missing = Call("read new", "GET", "/v1/subjects/" + fresh,
                              "eu-support-1", {.purpose = "customer_support"});
      EXPECT_EQ(missing.status, 404)
          << what << ": a refused create left subject " << fresh << ": "
          << missing.body;

      Response erase =
          Call("erase", "DELETE", "/v1/subjects/adv-ie-2", p, {.purpose = u});
      EXPECT_EQ(erase.status, 403)
          << what << ": DELETE answered " << erase.body;
    }
  }
  Response still = Call("read erased?", "GET", "/v1/subjects/adv-ie-2",
                        "eu-support-1", {.purpose = "customer_support"});
  EXPECT_EQ(still.status, 200) << still.body;
}

// --- aggregates ---

TEST_F(AttackTest, AggregateOverOneSubjectIsRefused) {
  Response r =
      Call("one-subject cohort", "POST", "/v1/aggregates", "eu-analytics",
           {.purpose = "analytics",
            .body = R"({"field":"birthdate","subjects":["adv-ie-0"]})"});
  EXPECT_GE(r.status, 400) << "a one-person cohort answered: " << r.body;
  EXPECT_LT(r.status, 500);
  Response two =
      Call("two-subject cohort", "POST", "/v1/aggregates", "eu-analytics",
           {.purpose = "analytics",
            .body = R"({"field":"birthdate","destination":"eu",)"
                    R"("subjects":["adv-ie-0","adv-ie-1"]})"});
  EXPECT_GE(two.status, 400) << "a two-person cohort answered: " << two.body;
}

TEST_F(AttackTest, AggregateByAnIdentifyingFieldIsRefused) {
  Response r =
      Call("device_id buckets", "POST", "/v1/aggregates", "eu-analytics",
           {.purpose = "analytics", .body = R"({"field":"device_id"})"});
  EXPECT_GE(r.status, 400)
      << "device_id (one value per person) was aggregated: " << r.body;
  EXPECT_LT(r.status, 500);
}

TEST_F(AttackTest, AggregateBudgetIsNotResetByTheCallersDestination) {
  int calls = 0;
  Response last;
  for (; calls < 60; ++calls) {
    last = Call("spend budget", "POST", "/v1/aggregates", "eu-analytics",
                {.purpose = "analytics",
                 .body = R"({"field":"birthdate","destination":"eu"})"});
    if (last.status == 429) break;
    ASSERT_EQ(last.status, 200) << "aggregate " << calls << ": " << last.body;
  }
  ASSERT_EQ(last.status, 429) << "the daily budget never ran out";
  for (const char* d : {"us", "cn", "uk", "br"}) {
    Response r =
        Call("fresh destination", "POST", "/v1/aggregates", "eu-analytics",
             {.purpose = "analytics",
              .body = absl::StrCat(R"({"field":"birthdate",)",
                                   R"("destination":")", d, "\"}")});
    EXPECT_THAT(r.status, AnyOf(Eq(429), Eq(400)))
        << "after the budget ran out (" << calls << " calls to eu), "
        << "destination " << d << " answered " << r.status << ": " << r.body;
  }
}

// --- detokenize ---

TEST_F(AttackTest, DetokenizeIsBoundToTheTokensField) {
  const Subject& s = subject("adv-ie-0");
  Response read =
      Call("token source", "GET", "/v1/subjects/adv-ie-0?fields=name",
           "eu-tns-1", {.purpose = "trust_safety"});
  std::string token = FieldValue(read, "name");
  ASSERT_TRUE(absl::StartsWith(token, "stk_")) << read.body;
  auto body = [&](const char* field) {
    return absl::StrCat("{\"field\":\"", field, "\",\"token\":\"", token,
                        "\",\"issued_destination\":\"eu\","
                        "\"issued_purpose\":\"trust_safety\"}");
  };
  Response ok =
      Call("detokenize name", "POST", "/v1/detokenize", "eu-support-1",
           {.purpose = "customer_support", .body = body("name")});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(StringMember(ok, "value"), s.name);
  Response wrong = Call(
      "detokenize as another field", "POST", "/v1/detokenize", "eu-support-1",
      {.purpose = "customer_support", .body = body("uploaded_videos")});
  EXPECT_EQ(wrong.status, 400)
      << "a name token reversed as uploaded_videos answered " << wrong.status
      << ": " << wrong.body;
}

// --- input validation ---

TEST_F(AttackTest, UndeclaredPurposesAreRefused) {
  const std::string u = kUndeclaredPurpose;
  struct Req {
    const char* method;
    const char* path;
    const char* principal;
    std::string body;
    bool purpose_header = true;
  };
  const std::vector<Req> reqs = {
      {"GET", "/v1/subjects/adv-ie-0", "eu-support-1", ""},
      {"POST", "/v1/exports", "eu-support-1",
       absl::StrCat(R"({"destination":"eu","purpose":")", u,
                    R"(","fields":["name"],"subjects":["adv-ie-0"]})"),
       false},
      {"POST", "/v1/aggregates", "eu-analytics", R"({"field":"birthdate"})"},
      {"POST", "/v1/detokenize", "eu-support-1",
       absl::StrCat(R"({"field":"name",)", NameTokenMembers(), "}")},
      {"PUT", "/v1/subjects/adv-purpose-1", "accounts-eu",
       R"({"country":"IE","fields":{"name":"x"}})"},
      {"DELETE", "/v1/subjects/adv-ie-3", "eu-support-1", ""},
  };
  for (const Req& q : reqs) {
    Response r = Call("undeclared purpose", q.method, q.path, q.principal,
                      {.purpose = q.purpose_header ? u : "", .body = q.body});
    EXPECT_EQ(r.status, 400) << q.method << " " << q.path << " for purpose "
                             << u << " answered " << r.status << ": " << r.body;
  }
}

TEST_F(AttackTest, NulInTheFieldListIsRefused) {
  for (const char* q : {"?fields=email%00", "?fields=email%00phone",
                        "?fields=%00", "?fields=name,email%00"}) {
    Response r =
        Call("NUL in fields", "GET", absl::StrCat("/v1/subjects/adv-ie-0", q),
             "eu-support-1", {.purpose = "customer_support"});
    EXPECT_EQ(r.status, 400) << "GET /v1/subjects/adv-ie-0" << q << " answered "
                             << r.status << ": " << r.body;
  }
}

TEST_F(AttackTest, DuplicateJsonKeysAreRefused) {
  Response filed =
      Call("file approval", "POST", "/v1/approvals", "us-legal-1",
           {.body = R"({"justification":"LEGAL_REQUEST","detail":"CASE-DUP",)"
                    R"("subjects":["adv-ie-0"],"fields":["email"]})"});
  ASSERT_EQ(filed.status, 201) << filed.body;
  std::string id = StringMember(filed, "approval", "id");
  ASSERT_FALSE(id.empty()) << filed.body;
  struct Req {
    const char* what;
    const char* method;
    std::string path;
    const char* principal;
    const char* purpose;
    std::string body;
  };
  const std::vector<Req> reqs = {
      {"export", "POST", "/v1/exports", "eu-support-1", "",
       R"({"destination":"eu","destination":"eu","purpose":"customer_support",)"
       R"("fields":["name"],"subjects":["adv-ie-0"]})"},
      {"export, nested", "POST", "/v1/exports", "eu-support-1", "",
       R"({"destination":"eu","purpose":"customer_support","purpose":)"
       R"("customer_support","fields":["name"],"subjects":["adv-ie-0"]})"},
      {"approval request", "POST", "/v1/approvals", "us-legal-1", "",
       R"({"justification":"LEGAL_REQUEST","detail":"A","detail":"B",)"
       R"("subjects":["adv-ie-0"],"fields":["email"]})"},
      {"approval decision", "POST", absl::StrCat("/v1/approvals/", id, "/deny"),
       "auditor", "", R"({"reason":"a","reason":"b"})"},
      {"aggregate", "POST", "/v1/aggregates", "eu-analytics", "analytics",
       R"({"field":"birthdate","field":"birthdate"})"},
      {"detokenize", "POST", "/v1/detokenize", "eu-support-1",
       "customer_support",
       absl::StrCat(R"({"field":"name","field":"name",)", NameTokenMembers(),
                    "}")},
      {"record", "PUT", "/v1/subjects/adv-dup-1", "accounts-eu",
       "account_management",
       R"({"country":"IE","country":"IE","fields":{"name":"x"}})"},
  };
  for (const Req& q : reqs) {
    Response r = Call(q.what, q.method, q.path, q.principal,
                      {.purpose = q.purpose, .body = q.body});
    EXPECT_EQ(r.status, 400)
        << q.what << " with a duplicate key: " << q.method << " " << q.path
        << " " << q.body << " answered " << r.status << ": " << r.body;
  }
}

TEST_F(AttackTest, JsonBodiesNeedAJsonContentType) {
  struct Req {
    const char* what;
    const char* method;
    const char* path;
    const char* principal;
    const char* purpose;
    std::string body;
  };
  const std::vector<Req> reqs = {
      {"export", "POST", "/v1/exports", "eu-support-1", "",
       R"({"destination":"eu","purpose":"customer_support","fields":["name"],)"
       R"("subjects":["adv-ie-0"]})"},
      {"aggregate", "POST", "/v1/aggregates", "eu-analytics", "analytics",
       R"({"field":"birthdate"})"},
      {"detokenize", "POST", "/v1/detokenize", "eu-support-1",
       "customer_support",
       absl::StrCat(R"({"field":"name",)", NameTokenMembers(), "}")},
      {"approval request", "POST", "/v1/approvals", "us-legal-1", "",
       R"({"justification":"LEGAL_REQUEST","detail":"CASE-CT",)"
       R"("subjects":["adv-ie-0"],"fields":["email"]})"},
      {"record", "PUT", "/v1/subjects/adv-ct-1", "accounts-eu",
       "account_management", R"({"country":"IE","fields":{"name":"x"}})"},
  };
  for (const char* type :
       {"text/plain", "application/x-www-form-urlencoded", "text/json"}) {
    for (const Req& q : reqs) {
      Response r =
          Call(q.what, q.method, q.path, q.principal,
               {.purpose = q.purpose, .body = q.body, .content_type = type});
      EXPECT_EQ(r.status, 415) << q.what << " (" << q.method << " " << q.path
                               << ") with Content-Type " << type << " answered "
                               << r.status << ": " << r.body;
    }
  }
  Response none = Call("read", "GET", "/v1/subjects/adv-ct-1", "eu-support-1",
                       {.purpose = "customer_support"});
  EXPECT_EQ(none.status, 404) << "a refused write stored adv-ct-1";
  Response ok =
      Call("export with charset", "POST", "/v1/exports", "eu-support-1",
           {.body = reqs[0].body,
            .content_type = "application/json; charset=utf-8"});
  EXPECT_NE(ok.status, 415) << "application/json; charset=utf-8 was refused";
}

// --- unbounded growth ---

TEST_F(AttackTest, UnknownMethodsAreRefusedAndMetricsStayBounded) {
  Response before = Call("metrics", "GET", "/metrics", "");
  ASSERT_EQ(before.status, 200);
  std::vector<std::string> names;
  for (int i = 0; i < 300; ++i) {
    std::string name = absl::StrCat("ADVMETHOD", i, "X");
    name.append(1000 - name.size(), 'Q');
    names.push_back(name);
  }
  std::vector<std::function<void()>> jobs;
  for (size_t i = 0; i < names.size(); ++i) {
    jobs.push_back([this, &names, i] {
      const char* path = i % 2 == 0 ? "/v1/subjects/adv-ie-0" : "/healthz";
      Response r = CallRaw(
          "unknown method", "cn-engineer-1",
          absl::StrCat(names[i], " ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                       AuthHeader("cn-engineer-1"),
                       "\r\nX-Clover-Purpose: service_operation\r\n"
                       "Connection: close\r\n\r\n"));
      EXPECT_THAT(r.status, AnyOf(Eq(501), Eq(405)))
          << "method " << names[i].substr(0, 16) << "… on " << path
          << " answered " << r.status;
    });
  }
  RunParallel(std::move(jobs));
  Response after = Call("metrics", "GET", "/metrics", "");
  ASSERT_EQ(after.status, 200);
  EXPECT_LT(after.body.size(), 1u << 20)
      << "/metrics grew from " << before.body.size() << " to "
      << after.body.size() << " bytes after 300 unknown methods";
  // (Not printed whole: it may be megabytes.)
  EXPECT_EQ(after.body.find("ADVMETHOD"), std::string::npos)
      << "client-chosen method names became metric labels";
}

// --- approvals ---

TEST_F(AttackTest, ApprovalRequestsPerPrincipalAreBounded) {
  int filed = 0;
  Response last;
  for (; filed < 400; ++filed) {
    last =
        Call("file approval", "POST", "/v1/approvals", "us-legal-1",
             {.body = absl::StrCat(
                  R"({"justification":"LEGAL_REQUEST","detail":"CASE-)", filed,
                  R"(","subjects":["adv-ie-0"],"fields":["email"]})")});
    if (last.status != 201) break;
  }
  EXPECT_THAT(last.status, AnyOf(Eq(429), Eq(409), Eq(403), Eq(400)))
      << "one principal filed " << filed
      << " open approval requests without being refused; last answer "
      << last.status << ": " << last.body;
}

TEST_F(AttackTest, OversizedApprovalRequestsAreRefused) {
  // 1,000 subject ids of 250 bytes: a 260 KB request.
  std::string subjects;
  for (int i = 0; i < 1000; ++i) {
    std::string id = absl::StrCat("adv-big-", i, "-");
    id.append(250 - id.size(), 'x');
    absl::StrAppend(&subjects, i == 0 ? "" : ",", "\"", id, "\"");
  }
  std::string big_subjects = absl::StrCat(
      R"({"justification":"LEGAL_REQUEST","detail":"CASE-BIG","subjects":[)",
      subjects, R"(],"fields":["email"]})");
  ASSERT_GT(big_subjects.size(), 250u * 1000);
  std::string big_detail =
      absl::StrCat(R"({"justification":"LEGAL_REQUEST","detail":")",
                   std::string(260 * 1024, 'd'),
                   R"(","subjects":["adv-ie-0"],"fields":["email"]})");
  for (const auto& [what, body] : {std::pair<const char*, const std::string&>{
                                       "260 KB of subject ids", big_subjects},
                                   {"260 KB detail", big_detail}}) {
    Response r =
        Call(what, "POST", "/v1/approvals", "us-legal-1", {.body = body});
    EXPECT_THAT(r.status, AnyOf(Eq(400), Eq(413)))
        << "an approval request with " << what << " answered " << r.status
        << ": " << r.body.substr(0, 300);
  }
}

TEST_F(AttackTest, ApprovedGrantNeverRevealsRestrictedEuDataAbroad) {
  Response filed =
      Call("file approval", "POST", "/v1/approvals", "us-legal-1",
           {.body = R"({"justification":"LEGAL_REQUEST","detail":"CASE-GRANT",)"
                    R"("subjects":["adv-ie-0"],"fields":["email","phone",)"
                    R"("ip_address","payment_country"],"duration":"1h"})"});
  ASSERT_LT(filed.status, 500);
  std::string id = StringMember(filed, "approval", "id");
  if (!id.empty()) {
    Call("approve", "POST", absl::StrCat("/v1/approvals/", id, "/approve"),
         "auditor", {.body = R"({"reason":"court order"})"});
  }
  for (const char* q :
       {"", "?fields=email", "?fields=email,phone,ip_address"}) {
    Response r = Call("read with a grant", "GET",
                      absl::StrCat("/v1/subjects/adv-ie-0", q), "us-legal-1",
                      {.purpose = "legal_request"});
    EXPECT_EQ(FieldValue(r, "email"), "")
        << "us-legal-1 read adv-ie-0" << q
        << " with an approved grant: " << r.body;
  }
  Call("export with a grant", "POST", "/v1/exports", "us-legal-1",
       {.body = R"({"destination":"us","purpose":"legal_request","fields":)"
                R"(["email","phone"],"subjects":["adv-ie-0"]})"});
}

TEST_F(AttackTest, RevokedGrantStopsAtOnce) {
  Response filed = Call(
      "file approval", "POST", "/v1/approvals", "us-legal-1",
      {.body =
           R"({"justification":"LEGAL_REQUEST","detail":"CASE-REVOKE",)"
           R"("subjects":["adv-ie-0"],"fields":["name"],"duration":"1h"})"});
  ASSERT_EQ(filed.status, 201) << filed.body;
  std::string id = StringMember(filed, "approval", "id");
  Response approved =
      Call("approve", "POST", absl::StrCat("/v1/approvals/", id, "/approve"),
           "auditor", {.body = R"({"reason":"court order"})"});
  ASSERT_EQ(approved.status, 200) << approved.body;
  Response before =
      Call("read with the grant", "GET", "/v1/subjects/adv-ie-0?fields=name",
           "us-legal-1", {.purpose = "legal_request"});
  ASSERT_EQ(FieldValue(before, "name"), subject("adv-ie-0").name)
      << "the grant did not apply: " << before.body;
  Response revoked =
      Call("revoke", "POST", absl::StrCat("/v1/approvals/", id, "/revoke"),
           "auditor", {.body = R"({"reason":"withdrawn"})"});
  EXPECT_EQ(revoked.status, 200)
      << "an approved grant could not be revoked: " << revoked.body;
  Response after =
      Call("read after revoking", "GET", "/v1/subjects/adv-ie-0?fields=name",
           "us-legal-1", {.purpose = "legal_request"});
  EXPECT_EQ(FieldValue(after, "name"), "")
      << "the grant still applied after its revocation: " << after.body;
}

TEST_F(AttackTest, ExportsUnderAGrantAreAppliedOrRefusedClearly) {
  Response filed = Call(
      "file approval", "POST", "/v1/approvals", "us-legal-1",
      {.body =
           R"({"justification":"LEGAL_REQUEST","detail":"CASE-EXPORT",)"
           R"("subjects":["adv-ie-0"],"fields":["name"],"duration":"1h"})"});
  ASSERT_EQ(filed.status, 201) << filed.body;
  std::string id = StringMember(filed, "approval", "id");
  ASSERT_EQ(
      Call("approve", "POST", absl::StrCat("/v1/approvals/", id, "/approve"),
           "auditor", {.body = R"({"reason":"court order"})"})
          .status,
      200);
  Response r = Call("export under a grant", "POST", "/v1/exports", "us-legal-1",
                    {.body = R"({"destination":"us","purpose":"legal_request",)"
                             R"("fields":["name"],"subjects":["adv-ie-0"]})"});
  bool refused = r.status == 403;
  bool applied = r.status == 200 && r.Header("x-clover-records") == "1";
  EXPECT_TRUE(refused || applied)
      << "an export of a granted field was neither refused nor applied: "
      << r.status << " records=" << r.Header("x-clover-records") << " "
      << r.body;
}

// --- authentication ---

TEST_F(AttackTest, AuthenticationComesBeforeResidency) {
  const std::string body =
      R"({"country":"US","fields":{"email":"nobody@adv.example"}})";
  Response anon =
      Call("unauthenticated misdirected write", "PUT", "/v1/subjects/adv-us-1",
           "", {.purpose = "account_management", .body = body});
  EXPECT_EQ(anon.status, 401)
      << "an unauthenticated write of a US subject to an EU node answered "
      << anon.status << ": " << anon.body;
  for (const char* credentials :
       {"Authorization: Bearer clv_not_a_key", "Authorization: Bearer",
        "Authorization: Basic YWRtaW46YWRtaW4=",
        "Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
        "X-Api-Key: clv_not_a_key", "X-Api-Key:"}) {
    for (const char* purpose : {"account_management", ""}) {
      Response bad = Call(
          "bad credentials, misdirected write", "PUT", "/v1/subjects/adv-us-1",
          "", {.purpose = purpose, .body = body, .headers = {credentials}});
      EXPECT_EQ(bad.status, 401)
          << "a misdirected write with '" << credentials << "' (purpose '"
          << purpose << "') answered " << bad.status << ": " << bad.body;
    }
  }
  EXPECT_EQ(anon.Header("location"), "") << "the endpoint map leaked";
}

// --- logging of look-ups ---

TEST_F(AttackTest, ExistenceChecksAndAdminLookupsAreLogged) {
  ASSERT_EQ(Call("erase", "DELETE", "/v1/subjects/adv-ie-5", "eu-support-1",
                 {.purpose = "customer_support"})
                .status,
            200);
  struct Probe {
    const char* what;
    std::string path;
    const char* principal;
    const char* purpose;
    int status;
  };
  const std::vector<Probe> probes = {
      {"unknown subject", "/v1/subjects/adv-nobody", "cn-engineer-1",
       "service_operation", 404},
      {"erased subject", "/v1/subjects/adv-ie-5", "cn-engineer-1",
       "service_operation", 410},
      {"access report", "/v1/subjects/adv-ie-0/access-report", "auditor", "",
       200},
      {"approvals list", "/v1/approvals", "auditor", "", 200},
  };
  for (const Probe& p : probes) {
    uint64_t before = LogSize();
    Response r =
        Call(p.what, "GET", p.path, p.principal, {.purpose = p.purpose});
    EXPECT_EQ(r.status, p.status) << p.what << ": " << r.body.substr(0, 200);
    // The entry may be appended just after the answer: give it a moment.
    uint64_t after = LogSize();
    for (int i = 0; i < 20 && after <= before; ++i) {
      absl::SleepFor(absl::Milliseconds(50));
      after = LogSize();
    }
    EXPECT_GT(after, before) << p.what << " (GET " << p.path << " by "
                             << p.principal << ") left no log entry";
  }
}

// --- errors ---

TEST_F(AttackTest, ErrorsAreJsonAndNameNoInternals) {
  struct Req {
    const char* what;
    const char* method;
    std::string path;
    const char* principal;
    const char* purpose;
    std::string body;
  };
  const std::vector<Req> reqs = {
      {"bad subject id", "GET", "/v1/subjects/a%20b", "eu-support-1",
       "customer_support", ""},
      {"long subject id", "GET", "/v1/subjects/" + std::string(300, 'a'),
       "eu-support-1", "customer_support", ""},
      {"no such route", "GET", "/nope", "", "", ""},
      {"no purpose", "GET", "/v1/subjects/adv-ie-0", "eu-support-1", "", ""},
      {"bad purpose", "GET", "/v1/subjects/adv-ie-0", "eu-support-1",
       "Bad Purpose!", ""},
      {"unknown subject", "GET", "/v1/subjects/adv-nobody", "eu-support-1",
       "customer_support", ""},
      {"unknown field", "GET", "/v1/subjects/adv-ie-0?fields=shoe_size",
       "eu-support-1", "customer_support", ""},
      {"broken JSON", "PUT", "/v1/subjects/adv-x", "accounts-eu",
       "account_management", "{"},
      {"unknown record field", "PUT", "/v1/subjects/adv-x", "accounts-eu",
       "account_management", R"({"country":"IE","fields":{"shoe":"1"}})"},
      {"bad email", "PUT", "/v1/subjects/adv-x", "accounts-eu",
       "account_management", R"({"country":"IE","fields":{"email":"no"}})"},
      {"misdirected write", "PUT", "/v1/subjects/adv-x", "accounts-eu",
       "account_management", R"({"country":"US","fields":{}})"},
      {"homeless write", "PUT", "/v1/subjects/adv-x", "accounts-eu",
       "account_management", R"({"country":"BR","fields":{}})"},
      {"export array", "POST", "/v1/exports", "eu-support-1", "", "[]"},
      {"export bad destination", "POST", "/v1/exports", "eu-support-1", "",
       R"({"destination":"mars","purpose":"customer_support","fields":["name"],)"
       R"("subjects":["adv-ie-0"]})"},
      {"detokenize garbage", "POST", "/v1/detokenize", "eu-support-1",
       "customer_support", R"({"field":"name","token":"stk_!!!"})"},
      {"detokenize hmac field", "POST", "/v1/detokenize", "eu-support-1",
       "customer_support", R"({"field":"email","token":"tok_AAAA"})"},
      {"aggregate list field", "POST", "/v1/aggregates", "eu-analytics",
       "analytics", R"({"field":"follows"})"},
      {"unknown approval", "GET", "/v1/approvals/nope", "auditor", "", ""},
      {"approve unknown", "POST", "/v1/approvals/nope/approve", "auditor", "",
       "{}"},
      {"bad approval state", "GET", "/v1/approvals?state=open", "auditor", "",
       ""},
      {"bad credentials", "GET", "/v1/subjects/adv-ie-0", "",
       "customer_support", ""},
      {"big body", "POST", "/v1/exports", "eu-support-1", "",
       std::string((1 << 20) + 10, ' ')},
  };
  for (const Req& q : reqs) {
    Response r = Call(q.what, q.method, q.path, q.principal,
                      {.purpose = q.purpose, .body = q.body});
    EXPECT_GE(r.status, 400) << q.what << ": " << r.body.substr(0, 200);
    EXPECT_LT(r.status, 500) << q.what << ": " << r.body.substr(0, 200);
  }
  for (const auto& [what, bytes] :
       std::vector<std::pair<const char*, std::string>>{
           {"bad Content-Length",
            "POST /v1/exports HTTP/1.1\r\nHost: x\r\nContent-Length: "
            "abc\r\n\r\n"},
           {"garbage request line", "\x01\x02 / HTTP/1.1\r\nHost: x\r\n\r\n"},
           {"HTTP/2.0", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n"},
           {"huge header",
            absl::StrCat("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ",
                         std::string(20000, 'b'), "\r\n\r\n")},
           {"TRACE with credentials",
            absl::StrCat("TRACE /v1/subjects/adv-ie-0 HTTP/1.1\r\nHost: x\r\n",
                         AuthHeader("eu-support-1"),
                         "\r\nConnection: close\r\n\r\n")},
           {"bad chunk size",
            "POST /v1/exports HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
            "chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"},
       }) {
    Response r = CallRaw(what, "", bytes);
    EXPECT_GE(r.status, 400) << what;
    EXPECT_LT(r.status, 500) << what;
  }
}

}  // namespace
}  // namespace clover::adversarial
