// The leak matrix: principals outside the EU (the China-based engineer, the US
// recommendation service, US legal without a grant) against every data
// endpoint, every declared purpose (and an undeclared one), every jurisdiction
// as destination and several encodings of the same request (percent-encoded
// ids and field lists, upper case, repeated parameters, JSON unicode escapes,
// chunked bodies, path tricks). Every response byte is scanned for every
// seeded raw restricted value (AdversarialTest::Check); any hit, any 5xx and
// any malformed error fails the test, naming the request.
#include <regex>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adversarial/adversarial_node.h"
#include "log/tile.h"

namespace clover::adversarial {
namespace {

std::string JsonList(const std::vector<std::string>& v) {
  std::vector<std::string> q;
  for (const auto& s : v) q.push_back(absl::StrCat("\"", s, "\""));
  return absl::StrCat("[", absl::StrJoin(q, ","), "]");
}

const std::vector<std::string> kAllFields = {
    "email",           "phone",          "name",          "birthdate",
    "ip_address",      "device_id",      "watch_history", "follows",
    "uploaded_videos", "payment_country"};

std::vector<std::string> PurposesAndUndeclared() {
  std::vector<std::string> v = kPurposes;
  v.push_back(kUndeclaredPurpose);
  return v;
}

class LeakMatrixTest : public AdversarialTest {
 protected:
  std::vector<std::string> ReadSubjects() const {
    return {"adv-ie-0", "adv-de-3", "adv-gb-0", "adv-ch-0"};
  }
  std::vector<std::string> AllSubjectIds() const {
    std::vector<std::string> ids;
    for (const Subject& s : subjects_) ids.push_back(s.id);
    ids.push_back("adv-unknown-1");
    return ids;
  }
  std::string RawRequest(absl::string_view method, absl::string_view target,
                         absl::string_view principal, absl::string_view purpose,
                         absl::string_view extra = {}) const {
    return absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                        AuthHeader(principal),
                        "\r\nX-Clover-Purpose: ", purpose, "\r\n", extra,
                        "Connection: close\r\n\r\n");
  }
  std::string ChunkedPost(absl::string_view target, absl::string_view principal,
                          absl::string_view purpose, absl::string_view body,
                          size_t chunk, bool upper_hex) const {
    return absl::StrCat(
        "POST ", target, " HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        AuthHeader(principal), "\r\nX-Clover-Purpose: ", purpose,
        "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n",
        Chunked(body, chunk, upper_hex));
  }
};

TEST_F(LeakMatrixTest, ReadsNeverRevealRawRestrictedValues) {
  std::vector<std::function<void()>> jobs;
  for (const std::string& p : kNonEuPrincipals) {
    for (const std::string& u : PurposesAndUndeclared()) {
      for (const std::string& id : ReadSubjects()) {
        std::string base = absl::StrCat("/v1/subjects/", id);
        std::vector<std::string> paths = {
            base,
            base + "?fields=email,phone,ip_address,payment_country",
            base + "?fields=email",
            base + "?fields=phone",
            base + "?fields=ip_address",
            base + "?fields=payment_country",
            "/v1/subjects/" + PercentEncodeAll(id, true),
            "/v1/subjects/" + PercentEncodeAll(id, false) +
                "?fields=%65mail%2c%70hone",
            base + "?fields=%45MAIL%2CPhone",
            base + "?fields=EMAIL,Phone,IP_ADDRESS",
            base + "?fields=name&fields=email&fields=ip_address",
            base + "?fields=name,email,ip_address,payment_country,birthdate",
            base + "?fields=email%00",
            base + "?fields=email%00,phone",
            base + "?fields=+email+,%20phone",
            base + "?FIELDS=email&Fields=phone",
            base + "?fields=",
            base + "?fields=email,email",
            "/v1/subjects/" + absl::AsciiStrToUpper(id),
        };
        for (const std::string& path : paths) {
          jobs.push_back([this, p, u, path] {
            Call("read", "GET", path, p, {.purpose = u});
          });
        }
        jobs.push_back([this, p, u, base] {
          Call("read, upper-case purpose", "GET", base, p,
               {.purpose = absl::AsciiStrToUpper(u)});
          Call("read, two purposes", "GET", base, p,
               {.purpose = u,
                .headers = {"X-Clover-Purpose: customer_support"}});
          Call("read, X-Api-Key", "GET", base, p,
               {.purpose = u, .api_key_header = true});
          Call("read, destination header", "GET", base, p,
               {.purpose = u, .headers = {"X-Clover-Destination: eu"}});
        });
      }
    }
  }
  RunParallel(std::move(jobs));
  // Path and request-target tricks curl would normalise: raw bytes.
  for (const std::string& p : kNonEuPrincipals) {
    for (const std::string& u :
         {std::string("service_operation"), std::string("customer_support")}) {
      for (const std::string& target :
           {std::string("/v1/subjects/../subjects/adv-ie-0"),
            std::string("/v1/subjects/./adv-ie-0"),
            std::string("//v1/subjects/adv-ie-0"),
            std::string("/v1//subjects/adv-ie-0"),
            std::string("/v1/subjects/adv-ie-0/"),
            std::string("/v1/subjects/adv-ie-0?fields=email#x"),
            std::string("/v1/subjects/adv-ie-0;fields=email"),
            std::string("/v1/subjects/adv-ie-0%2f..%2fadv-de-3"),
            std::string("/V1/SUBJECTS/adv-ie-0"),
            absl::StrCat("http://127.0.0.1:", port_,
                         "/v1/subjects/adv-ie-0?fields=email")}) {
        CallRaw("raw read", p, RawRequest("GET", target, p, u));
      }
      CallRaw("raw read, HEAD", p,
              RawRequest("HEAD", "/v1/subjects/adv-ie-0", p, u));
      CallRaw("raw read, purpose with spaces", p,
              RawRequest("GET", "/v1/subjects/adv-ie-0", p,
                         absl::StrCat(" ", u, " ")));
    }
  }
}

TEST_F(LeakMatrixTest, ExportsNeverCarryRawRestrictedValuesAbroad) {
  const std::string subjects = JsonList(AllSubjectIds());
  auto body = [&](absl::string_view d, absl::string_view u,
                  const std::vector<std::string>& fields) {
    return absl::StrCat("{\"destination\":\"", d, "\",\"purpose\":\"", u,
                        "\",\"fields\":", JsonList(fields),
                        ",\"subjects\":", subjects, "}");
  };
  std::vector<std::function<void()>> jobs;
  for (const std::string& p : kNonEuPrincipals) {
    for (const std::string& u : PurposesAndUndeclared()) {
      for (const std::string& d : kDestinations) {
        jobs.push_back([=, this] {
          Call("export", "POST", "/v1/exports", p,
               {.body = body(d, u, kAllFields)});
          Call("export restricted fields", "POST", "/v1/exports", p,
               {.body = body(d, u, kRestrictedFields)});
          Call("export, unicode-escaped body", "POST", "/v1/exports", p,
               {.body = UnicodeEscapeLetters(body(d, u, kAllFields))});
          Call("export, purpose header too", "POST", "/v1/exports", p,
               {.purpose = "customer_support",
                .body = body(d, u, kRestrictedFields)});
        });
      }
      jobs.push_back([=, this] {
        Call("export, destination EU", "POST", "/v1/exports", p,
             {.body = body("EU", u, kAllFields)});
        Call("export, duplicate destination", "POST", "/v1/exports", p,
             {.body = absl::StrCat("{\"destination\":\"cn\",",
                                   body("eu", u, kAllFields).substr(1))});
        Call("export, fields as one string", "POST", "/v1/exports", p,
             {.body = absl::StrCat(
                  "{\"destination\":\"eu\",\"purpose\":\"", u,
                  "\",\"fields\":[\"email,phone\"],\"subjects\":", subjects,
                  "}")});
        for (absl::string_view d : {"eu", "us", "cn"}) {
          CallRaw("export, chunked body", p,
                  ChunkedPost("/v1/exports", p, u, body(d, u, kAllFields), 7,
                              d == "us"),
                  true);
        }
      });
    }
  }
  // Whoever asks, restricted EU data never leaves the EU raw.
  for (const std::string& p : kEuPrincipals) {
    for (const std::string& u : kPurposes) {
      for (const std::string& d : kDestinations) {
        if (d == "eu") continue;
        jobs.push_back([=, this] {
          Call("export abroad by an EU principal", "POST", "/v1/exports", p,
               {.body = body(d, u, kAllFields), .scan = true});
        });
      }
    }
  }
  RunParallel(std::move(jobs));
}

TEST_F(LeakMatrixTest, AggregatesNeverRevealRawRestrictedValues) {
  std::vector<std::string> fields = kRestrictedFields;
  fields.push_back("birthdate");
  std::vector<std::function<void()>> jobs;
  for (const std::string& p : kNonEuPrincipals) {
    for (const std::string& u : PurposesAndUndeclared()) {
      for (const std::string& f : fields) {
        jobs.push_back([=, this] {
          Call("aggregate", "POST", "/v1/aggregates", p,
               {.purpose = u, .body = absl::StrCat("{\"field\":\"", f, "\"}")});
          for (const std::string& d : kDestinations) {
            Call("aggregate", "POST", "/v1/aggregates", p,
                 {.purpose = u,
                  .body = absl::StrCat("{\"field\":\"", f,
                                       "\",\"destination\":\"", d, "\"}")});
          }
          Call("aggregate over one subject", "POST", "/v1/aggregates", p,
               {.purpose = u,
                .body = absl::StrCat("{\"field\":\"", f,
                                     "\",\"subjects\":[\"adv-ie-0\"]}")});
          Call("aggregate, unicode-escaped body", "POST", "/v1/aggregates", p,
               {.purpose = u,
                .body = UnicodeEscapeLetters(absl::StrCat(
                    "{\"field\":\"", f, "\",\"destination\":\"eu\"}"))});
        });
      }
      jobs.push_back([=, this] {
        CallRaw("aggregate, chunked body", p,
                ChunkedPost("/v1/aggregates", p, u,
                            "{\"field\":\"email\",\"subjects\":[\"adv-ie-0\","
                            "\"adv-ie-1\"]}",
                            5, true));
      });
    }
  }
  // The analytics service itself, sending its aggregates abroad.
  for (const std::string& d : kDestinations) {
    for (const std::string& f : kRestrictedFields) {
      jobs.push_back([=, this] {
        Call("analytics aggregate abroad", "POST", "/v1/aggregates",
             "eu-analytics",
             {.purpose = "analytics",
              .body = absl::StrCat("{\"field\":\"", f, "\",\"destination\":\"",
                                   d, "\"}"),
              .scan = d != "eu"});
      });
    }
  }
  RunParallel(std::move(jobs));
}

TEST_F(LeakMatrixTest, DetokenizeNeverRevealsRawRestrictedValues) {
  // Tokens a non-EU principal can get or could have been handed: its own
  // pseudonymised reads and trust and safety's.
  std::set<std::string> tokens;
  std::regex stk("stk_[A-Za-z0-9_=-]+");
  auto collect = [&](const Response& r) {
    for (std::sregex_iterator it(r.body.begin(), r.body.end(), stk), end;
         it != end; ++it) {
      tokens.insert(it->str());
    }
  };
  for (absl::string_view id : {"adv-ie-0", "adv-gb-0"}) {
    collect(Call("token source", "GET", absl::StrCat("/v1/subjects/", id),
                 "cn-engineer-1", {.purpose = "service_operation"}));
    collect(Call("token source", "GET", absl::StrCat("/v1/subjects/", id),
                 "eu-tns-1", {.purpose = "trust_safety"}));
  }
  ASSERT_GE(tokens.size(), 2u) << "no siv tokens to replay";
  std::vector<std::function<void()>> jobs;
  for (const std::string& p : kNonEuPrincipals) {
    for (const std::string& u : PurposesAndUndeclared()) {
      for (const std::string& token : tokens) {
        jobs.push_back([=, this] {
          for (absl::string_view field :
               {"name", "uploaded_videos", "email", "phone"}) {
            for (absl::string_view d : {"", "eu", "cn", "us"}) {
              for (absl::string_view ip :
                   {"", "trust_safety", "service_operation"}) {
                std::string body = absl::StrCat("{\"field\":\"", field,
                                                "\",\"token\":\"", token, "\"");
                if (!d.empty())
                  absl::StrAppend(&body, ",\"issued_destination\":\"", d, "\"");
                if (!ip.empty())
                  absl::StrAppend(&body, ",\"issued_purpose\":\"", ip, "\"");
                body.push_back('}');
                Call("detokenize", "POST", "/v1/detokenize", p,
                     {.purpose = u, .body = body});
              }
            }
          }
          Call("detokenize, unicode-escaped body", "POST", "/v1/detokenize", p,
               {.purpose = u,
                .body = UnicodeEscapeLetters(absl::StrCat(
                    "{\"field\":\"name\",\"token\":\"", token,
                    "\",\"issued_destination\":\"eu\",\"issued_purpose\":"
                    "\"trust_safety\"}"))});
        });
      }
    }
  }
  RunParallel(std::move(jobs));
}

TEST_F(LeakMatrixTest, ApprovalsAndAccessReportsNeverRevealRawValues) {
  const std::vector<std::string> kJustifications = {
      "CUSTOMER_INITIATED_SUPPORT", "LEGAL_REQUEST",
      "SECURITY_INCIDENT",          "SERVICE_OPERATION",
      "FRAUD_INVESTIGATION",        "THIRD_PARTY_DATA_REQUEST"};
  std::regex id_re("\"id\":\"([^\"]+)\"");
  std::vector<std::pair<std::string, std::string>> filed;  // principal, id
  for (const std::string& p : kNonEuPrincipals) {
    for (const std::string& j : kJustifications) {
      Response r = Call(
          "file approval", "POST", "/v1/approvals", p,
          {.body = absl::StrCat(
               "{\"justification\":\"", j,
               "\",\"detail\":\"CASE-ADV\",\"subjects\":[\"adv-ie-0\","
               "\"adv-gb-0\"],\"fields\":[\"email\",\"phone\",\"ip_address\","
               "\"payment_country\"],\"duration\":\"1h\"}")});
      std::smatch m;
      if (r.status == 201 && std::regex_search(r.body, m, id_re)) {
        filed.emplace_back(p, m[1].str());
      }
    }
  }
  for (const std::string& p : kNonEuPrincipals) {
    Call("list approvals", "GET", "/v1/approvals", p);
    for (absl::string_view s : {"pending", "approved", "denied", "expired",
                                "APPROVED", "approved&state=pending"}) {
      Call("list approvals", "GET", absl::StrCat("/v1/approvals?state=", s), p);
    }
    for (const auto& [owner, id] : filed) {
      Call("get approval", "GET", absl::StrCat("/v1/approvals/", id), p);
      Call("approve as non-approver", "POST",
           absl::StrCat("/v1/approvals/", id, "/approve"), p,
           {.body = "{\"reason\":\"self\",\"duration\":\"8h\"}"});
    }
    for (const Subject& s : subjects_) {
      Call("access report", "GET",
           absl::StrCat("/v1/subjects/", s.id, "/access-report"), p);
    }
    Call("access report, encoded id", "GET",
         absl::StrCat("/v1/subjects/", PercentEncodeAll("adv-ie-0"),
                      "/access-report"),
         p);
  }
  // The trustee approves the requests of the principals whose reads the policy
  // never makes approval-dependent; their reads must stay as they were.
  for (const auto& [owner, id] : filed) {
    if (owner == "us-legal-1") continue;
    Call("approve", "POST", absl::StrCat("/v1/approvals/", id, "/approve"),
         "auditor", {.body = "{\"reason\":\"adversarial\"}"});
  }
  std::vector<std::function<void()>> jobs;
  for (const std::string& p : kNonEuPrincipals) {
    for (const std::string& u : PurposesAndUndeclared()) {
      jobs.push_back([=, this] {
        for (absl::string_view id : {"adv-ie-0", "adv-gb-0"}) {
          Call("read after approvals", "GET", absl::StrCat("/v1/subjects/", id),
               p, {.purpose = u});
        }
        for (const std::string& d : kDestinations) {
          Call("export after approvals", "POST", "/v1/exports", p,
               {.body = absl::StrCat(
                    "{\"destination\":\"", d, "\",\"purpose\":\"", u,
                    "\",\"fields\":[\"email\",\"phone\",\"ip_address\","
                    "\"payment_country\"],\"subjects\":[\"adv-ie-0\","
                    "\"adv-gb-0\"]}")});
        }
      });
    }
  }
  RunParallel(std::move(jobs));
}

TEST_F(LeakMatrixTest, PublicLogAndAccessReportsHoldNoRawValues) {
  // Decisions of every kind: raw reads by EU support, writes, refusals,
  // exports, detokenisation, aggregates and approvals.
  for (const Subject& s : subjects_) {
    Call("raw read", "GET", "/v1/subjects/" + s.id, "eu-support-1",
         {.purpose = "customer_support"});
    Call("pseudonymised read", "GET", "/v1/subjects/" + s.id, "cn-engineer-1",
         {.purpose = "service_operation"});
  }
  const Subject& rewritten = subject("adv-de-0");
  Call("rewrite", "PUT", "/v1/subjects/" + rewritten.id, "accounts-eu",
       {.purpose = "account_management", .body = rewritten.json});
  Call("export", "POST", "/v1/exports", "eu-support-1",
       {.body = absl::StrCat(
            R"({"destination":"eu","purpose":)",
            R"("customer_support","fields":)", JsonList(kAllFields),
            ",\"subjects\":", JsonList(AllSubjectIds()), "}")});
  Call("aggregate", "POST", "/v1/aggregates", "eu-analytics",
       {.purpose = "analytics", .body = R"({"field":"birthdate"})"});
  Call("approval", "POST", "/v1/approvals", "us-legal-1",
       {.body = R"({"justification":"LEGAL_REQUEST","detail":"CASE-LOG",)"
                R"("subjects":["adv-ie-0"],"fields":["email"]})"});
  Response tns = Call("token", "GET", "/v1/subjects/adv-ie-1?fields=name",
                      "eu-tns-1", {.purpose = "trust_safety"});
  std::smatch m;
  std::regex stk("stk_[A-Za-z0-9_=-]+");
  if (std::regex_search(tns.body, m, stk)) {
    Call("detokenize", "POST", "/v1/detokenize", "eu-support-1",
         {.purpose = "customer_support",
          .body = absl::StrCat(R"({"field":"name","token":")", m.str(),
                               R"(","issued_destination":"eu",)",
                               R"("issued_purpose":"trust_safety"})")});
  }
  // The log is public: every entry, read as anyone would.
  const uint64_t size = LogSize();
  ASSERT_GT(size, subjects_.size());
  Call("checkpoint", "GET", "/log/checkpoint", "", {.scan = true});
  std::string entries;  // what was read, to know the scan saw entries
  for (uint64_t t = 0; t < log::FullTileCount(size, 0); ++t) {
    Response r =
        Call("entries tile", "GET",
             absl::StrCat("/log/",
                          log::FormatTilePath({.entries = true, .index = t})),
             "", {.scan = true});
    EXPECT_EQ(r.status, 200) << "tile " << t;
    entries += r.body;
  }
  if (int w = log::PartialTileWidth(size, 0); w > 0) {
    Response r = Call(
        "partial entries tile", "GET",
        absl::StrCat("/log/",
                     log::FormatTilePath({.entries = true,
                                          .index = log::FullTileCount(size, 0),
                                          .width = w})),
        "", {.scan = true});
    EXPECT_EQ(r.status, 200) << r.body;
    entries += r.body;
  }
  EXPECT_NE(entries.find("\"principal\""), std::string::npos)
      << "the entry bundles read hold no decision entries";
  EXPECT_NE(entries.find("accounts-eu"), std::string::npos);
  // Access reports quote the log: no raw values either, even for the auditor.
  for (const Subject& s : subjects_) {
    for (const char* p : {"auditor", "admin"}) {
      Call("access report", "GET",
           absl::StrCat("/v1/subjects/", s.id, "/access-report"), p,
           {.scan = true});
    }
  }
}

}  // namespace
}  // namespace clover::adversarial
