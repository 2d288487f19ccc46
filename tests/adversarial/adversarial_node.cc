#include "adversarial/adversarial_node.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "rapidjson/document.h"

namespace clover::adversarial {
namespace {

// What a raw restricted value looks like in a response (lower-cased, as the
// scan lower-cases responses too).
std::vector<std::string> Markers(const Subject& s) {
  std::vector<std::string> m;
  m.push_back(absl::AsciiStrToLower(s.email));
  m.push_back(absl::AsciiStrToLower(s.email.substr(0, s.email.find('@'))));
  m.push_back(s.phone);
  m.push_back(s.phone.substr(1));  // without '+'
  m.push_back(absl::AsciiStrToLower(s.ip));
  // A country code is too short to find bare; as a JSON string it is unique
  // (jurisdiction ids and tokens are never two upper-case letters).
  m.push_back(
      absl::StrCat("\"", absl::AsciiStrToLower(s.payment_country), "\""));
  return m;
}

std::string Excerpt(absl::string_view s, size_t n = 240) {
  std::string out(s.substr(0, n));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  if (s.size() > n) out.append("…");
  return out;
}

// 501 is the right answer to a method HTTP does not define (RFC 9110 9.1);
// for any other request a 5xx is the server's fault.
bool IsStandardMethod(absl::string_view method) {
  for (absl::string_view m : {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT",
                              "OPTIONS", "TRACE", "PATCH"}) {
    if (m == method) return true;
  }
  return false;
}

bool IsNonEu(absl::string_view principal) {
  for (const auto& p : kNonEuPrincipals) {
    if (p == principal) return true;
  }
  return principal == "accounts-us";
}

// Parses complete HTTP/1.1 responses from `in` (every response carries
// Content-Length, docs/architecture.md), leaving what follows them.
void ParseResponses(std::string in, bool head_request, RawExchange* out) {
  size_t pos = 0;
  while (true) {
    size_t end = in.find("\r\n\r\n", pos);
    if (end == std::string::npos) break;
    absl::string_view head(in.data() + pos, end - pos);
    Response r;
    size_t line_end = head.find("\r\n");
    absl::string_view status_line = head.substr(0, line_end);
    if (!absl::StartsWith(status_line, "HTTP/1.1 ") ||
        status_line.size() < 12 ||
        !absl::SimpleAtoi(status_line.substr(9, 3), &r.status)) {
      break;
    }
    size_t length = 0;
    bool has_length = false;
    if (line_end != absl::string_view::npos) {
      for (absl::string_view line :
           absl::StrSplit(head.substr(line_end + 2), "\r\n")) {
        size_t colon = line.find(':');
        if (colon == absl::string_view::npos) continue;
        std::string name = absl::AsciiStrToLower(line.substr(0, colon));
        std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
        if (name == "content-length") {
          has_length = absl::SimpleAtoi(value, &length);
        }
        r.headers.emplace_back(std::move(name), std::move(value));
      }
    }
    size_t body_start = end + 4;
    if (head_request) {
      length = 0;  // HEAD: the length is the GET's, no body follows
    } else if (!has_length) {
      // Not expected from this server; take the rest.
      length = in.size() - body_start;
    }
    if (in.size() - body_start < length) break;
    r.body = in.substr(body_start, length);
    r.raw = in.substr(pos, body_start + length - pos);
    out->responses.push_back(std::move(r));
    pos = body_start + length;
  }
  out->trailing = in.substr(pos);
}

}  // namespace

std::string Response::Header(absl::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return "";
}

RawExchange RawSend(int port, absl::string_view bytes, absl::Duration quiet,
                    absl::Duration first_wait) {
  const bool head = absl::StartsWith(bytes, "HEAD ");
  RawExchange ex;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return ex;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return ex;
  }
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n =
        send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early (e.g. on a 400)
    sent += static_cast<size_t>(n);
  }
  std::string in;
  absl::Time last = absl::Now();
  while (true) {
    RawExchange parsed;
    ParseResponses(in, head, &parsed);
    absl::Duration wait = parsed.responses.empty() ? first_wait : quiet;
    absl::Duration left = wait - (absl::Now() - last);
    if (left <= absl::ZeroDuration()) break;
    pollfd p{fd, POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (rc <= 0) continue;
    char buf[65536];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      ex.closed = true;
      break;
    }
    in.append(buf, static_cast<size_t>(n));
    last = absl::Now();
  }
  close(fd);
  ParseResponses(std::move(in), head, &ex);
  return ex;
}

void RunParallel(std::vector<std::function<void()>> jobs, int threads) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i = next++; i < jobs.size(); i = next++) jobs[i]();
    });
  }
  for (auto& th : pool) th.join();
}

std::string Chunked(absl::string_view body, size_t chunk, bool upper_hex) {
  std::string out;
  for (size_t i = 0; i < body.size(); i += chunk) {
    absl::string_view part = body.substr(i, chunk);
    out.append(upper_hex ? absl::StrFormat("%X", part.size())
                         : absl::StrFormat("%x", part.size()));
    out.append("\r\n");
    out.append(part.data(), part.size());
    out.append("\r\n");
  }
  out.append("0\r\n\r\n");
  return out;
}

std::string PercentEncodeAll(absl::string_view s, bool upper) {
  std::string out;
  for (unsigned char c : s) {
    out.append(upper ? absl::StrFormat("%%%02X", c)
                     : absl::StrFormat("%%%02x", c));
  }
  return out;
}

std::string UnicodeEscapeLetters(absl::string_view s) {
  std::string out;
  for (char c : s) {
    if (absl::ascii_isalpha(c)) {
      out.append(absl::StrFormat("\\u%04x", c));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void AdversarialTest::SetUp() {
  StartNode();
  if (HasFatalFailure()) return;
  Seed();
}

void AdversarialTest::TearDown() {
  if (pid_ > 0) {
    int status = 0;
    EXPECT_EQ(waitpid(pid_, &status, WNOHANG), 0)
        << "clover serve exited during the test (status " << status
        << "); its stderr is in " << (dir_ / "serve.log");
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  std::cerr << checked_ << " responses checked\n";
  ExpectClean();
}

void AdversarialTest::StartNode() {
  auto d = clover::LoadDeployment(
      absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
  ASSERT_TRUE(d.ok()) << d.status();
  auto nodes = gateway::PrepareLocalDeployment(*d, (dir_ / "data").string(), 0,
                                               gateway::FreeLoopbackPort);
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  for (auto& n : *nodes) {
    if (n.dc == "ie-dub-1") node_ = n;
  }
  ASSERT_FALSE(node_.endpoint.empty());
  ASSERT_TRUE(absl::SimpleAtoi(
      node_.endpoint.substr(node_.endpoint.rfind(':') + 1), &port_));
  config_ = (dir_ / "ie-dub-1.yaml").string();
  std::ofstream(config_) << gateway::NodeConfigYaml(
      node_, absl::StrCat(CLOVER_SOURCE_DIR, "/examples"));
  std::string log = (dir_ / "serve.log").string();
  pid_ = fork();
  if (pid_ == 0) {
    int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(out, 2);
    execl(CLOVER_BINARY, CLOVER_BINARY, "serve", "--config", config_.c_str(),
          "--threads", "2", static_cast<char*>(nullptr));
    _exit(127);
  }
  gateway::HttpClient c(absl::Seconds(2));
  for (int i = 0; i < 300; ++i) {
    auto r = c.Send("GET", node_.endpoint + "/readyz", {});
    if (r.ok() && r->status == 200) return;
    absl::SleepFor(absl::Milliseconds(50));
  }
  FAIL() << "clover serve did not become ready; see " << log;
}

void AdversarialTest::Seed() {
  const std::vector<std::pair<std::string, int>> kHomes = {
      {"ie", 6}, {"de", 6}, {"gb", 2}, {"ch", 1}};
  int i = 0;
  for (const auto& [cc, count] : kHomes) {
    for (int k = 0; k < count; ++k, ++i) {
      Subject s;
      s.id = absl::StrCat("adv-", cc, "-", k);
      s.country = absl::AsciiStrToUpper(cc);
      s.email = absl::StrFormat("qzadv%02dmk7@adv-mail.example", i);
      s.phone = absl::StrFormat("+3538710%05d", 40000 + i);
      s.ip = cc == "gb" || cc == "ch"
                 ? absl::StrFormat("2001:db8:ad:%x::beef", 0x700 + i)
                 : absl::StrFormat("198.51.100.1%02d", i);
      s.payment_country = cc == "gb" ? "BV" : cc == "ch" ? "HM" : "AQ";
      s.name = absl::StrCat("Adv Person ", i);
      s.json = absl::StrFormat(
          R"({"country":"%s","fields":{"email":"%s","phone":"%s",)"
          R"("name":"%s","birthdate":"1990-%02d-1%d","ip_address":"%s",)"
          R"("device_id":"dev-%d","watch_history":["w1","w%d"],)"
          R"("follows":["f%d"],"uploaded_videos":["vid-%d.mp4"],)"
          R"("payment_country":"%s"}})",
          s.country, s.email, s.phone, s.name, 1 + i % 9, i % 10, s.ip, i, i, i,
          i, s.payment_country);
      Response r = Call(absl::StrCat("seed ", s.id), "PUT",
                        absl::StrCat("/v1/subjects/", s.id), "accounts-eu",
                        {.purpose = "account_management", .body = s.json});
      ASSERT_EQ(r.status, 201) << "seeding " << s.id << ": " << r.body;
      subjects_.push_back(std::move(s));
    }
  }
}

const Subject& AdversarialTest::subject(absl::string_view id) const {
  for (const Subject& s : subjects_) {
    if (s.id == id) return s;
  }
  ADD_FAILURE() << "no seeded subject " << id;
  return subjects_.front();
}

std::string AdversarialTest::AuthHeader(absl::string_view principal) {
  return absl::StrCat("Authorization: Bearer ",
                      gateway::ExampleApiKey(principal));
}

Response AdversarialTest::Call(absl::string_view what, absl::string_view method,
                               absl::string_view path,
                               absl::string_view principal,
                               const CallOptions& o) {
  thread_local gateway::HttpClient client(absl::Seconds(30));
  std::vector<std::string> headers;
  if (!principal.empty()) {
    headers.push_back(
        o.api_key_header
            ? absl::StrCat("X-Api-Key: ", gateway::ExampleApiKey(principal))
            : AuthHeader(principal));
  }
  if (!o.purpose.empty())
    headers.push_back(absl::StrCat("X-Clover-Purpose: ", o.purpose));
  // libcurl would otherwise label every body form-urlencoded.
  headers.push_back(o.content_type.empty() || o.body.empty()
                        ? std::string("Content-Type:")
                        : absl::StrCat("Content-Type: ", o.content_type));
  for (const auto& h : o.headers) headers.push_back(h);
  auto r =
      client.Send(method, absl::StrCat(node_.endpoint, path), headers, o.body);
  Response out;
  if (r.ok()) {
    out.status = r->status;
    out.body = std::move(r->body);
    out.headers = std::move(r->headers);
  }
  std::string desc =
      absl::StrCat(what, " [", method, " ", path, " as ",
                   principal.empty() ? "nobody" : principal,
                   o.purpose.empty() ? "" : " for ", o.purpose,
                   o.body.empty() ? "" : " body ", Excerpt(o.body, 160), "]");
  if (!r.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    server_errors_.push_back(
        absl::StrCat(desc, ": no response: ", r.status().ToString()));
    return out;
  }
  Check(desc, principal, out, o.scan, /*head=*/method == "HEAD",
        /*may_be_501=*/!IsStandardMethod(method));
  return out;
}

Response AdversarialTest::CallRaw(absl::string_view what,
                                  absl::string_view principal,
                                  absl::string_view request_bytes, bool scan) {
  RawExchange ex = RawSend(port_, request_bytes);
  std::string desc =
      absl::StrCat(what, " [raw as ", principal.empty() ? "nobody" : principal,
                   ": ", Excerpt(request_bytes, 200), "]");
  if (ex.responses.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    server_errors_.push_back(absl::StrCat(desc, ": no response"));
    return {};
  }
  absl::string_view method = request_bytes.substr(0, request_bytes.find(' '));
  for (const Response& r : ex.responses) {
    Check(desc, principal, r, scan, method == "HEAD",
          !IsStandardMethod(method));
  }
  if (ex.responses.size() > 1) {
    std::lock_guard<std::mutex> lock(mu_);
    bad_errors_.push_back(absl::StrCat(desc, ": ", ex.responses.size(),
                                       " responses to one request"));
  }
  return ex.responses.front();
}

void AdversarialTest::Check(absl::string_view what, absl::string_view principal,
                            const Response& r, bool scan, bool head,
                            bool may_be_501) {
  std::vector<std::string> found;
  if (scan || IsNonEu(principal) || principal.empty()) {
    std::string lower = absl::AsciiStrToLower(r.raw.empty() ? r.body : r.raw);
    for (const auto& [k, v] : r.headers) {
      absl::StrAppend(&lower, "\n", absl::AsciiStrToLower(v));
    }
    std::set<std::string> seen;  // subjects share payment countries
    for (const Subject& s : subjects_) {
      for (const std::string& m : Markers(s)) {
        if (seen.insert(m).second && absl::StrContains(lower, m)) {
          found.push_back(absl::StrCat("raw ", m, " of ", s.id));
        }
      }
    }
  }
  std::string bad_error;
  for (absl::string_view p :
       {"eu-support-1", "eu-support-2", "cn-engineer-1", "us-recommender",
        "eu-tns-1", "us-legal-1", "eu-analytics", "auditor", "admin",
        "accounts-eu", "accounts-us"}) {
    std::string key = gateway::ExampleApiKey(p);
    if (!key.empty() &&
        (absl::StrContains(r.body, key) || absl::StrContains(r.raw, key))) {
      bad_error = absl::StrCat("the response echoes the API key of ", p);
    }
  }
  if (r.status >= 400 && !head && bad_error.empty()) {
    rapidjson::Document doc;
    doc.Parse(r.body.c_str(), r.body.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("error") ||
        !doc["error"].IsObject() || !doc["error"].HasMember("code") ||
        !doc["error"]["code"].IsString() ||
        !doc["error"].HasMember("message") ||
        !doc["error"]["message"].IsString()) {
      bad_error = "error body is not {\"error\":{\"code\",\"message\"}}";
    } else {
      std::string message = doc["error"]["message"].GetString();
      for (absl::string_view internal :
           {absl::string_view(dir_.native()), absl::string_view("/tmp/"),
            absl::string_view("/var/"), absl::string_view("/home/"),
            absl::string_view("/usr/"), absl::string_view("/etc/"),
            absl::string_view("/work/"), absl::string_view("/run/"),
            absl::string_view("/proc/"), absl::string_view(".sock"),
            absl::string_view("socket"), absl::string_view(".cc:"),
            absl::string_view("rocksdb"), absl::string_view("errno")}) {
        if (absl::StrContains(message, internal) ||
            absl::StrContains(r.body, internal)) {
          bad_error = absl::StrCat("error names internals (", internal, ")");
          break;
        }
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++checked_;
  for (const auto& f : found) {
    leaks_.push_back(
        absl::StrCat(what, " -> ", r.status, ": ", f, " in ", Excerpt(r.body)));
  }
  if ((r.status >= 500 && !(r.status == 501 && may_be_501)) || r.status == 0) {
    server_errors_.push_back(
        absl::StrCat(what, " -> ", r.status, ": ", Excerpt(r.body)));
  }
  if (!bad_error.empty()) {
    bad_errors_.push_back(absl::StrCat(what, " -> ", r.status, ": ", bad_error,
                                       ": ", Excerpt(r.body)));
  }
}

void AdversarialTest::ExpectClean() {
  std::lock_guard<std::mutex> lock(mu_);
  auto first = [](const std::vector<std::string>& v) {
    std::vector<std::string> head(v.begin(),
                                  v.begin() + std::min<size_t>(v.size(), 12));
    return absl::StrJoin(head, "\n  ");
  };
  EXPECT_TRUE(leaks_.empty())
      << leaks_.size() << " raw restricted values reached a non-EU principal "
      << "or destination, e.g.\n  " << first(leaks_);
  EXPECT_TRUE(server_errors_.empty())
      << server_errors_.size() << " requests got a 5xx or no response, e.g.\n  "
      << first(server_errors_);
  EXPECT_TRUE(bad_errors_.empty())
      << bad_errors_.size() << " malformed or revealing errors, e.g.\n  "
      << first(bad_errors_);
  leaks_.clear();
  server_errors_.clear();
  bad_errors_.clear();
}

uint64_t AdversarialTest::LogSize() {
  Response r = Call("readyz", "GET", "/readyz", "");
  rapidjson::Document doc;
  doc.Parse(r.body.c_str(), r.body.size());
  if (!doc.IsObject() || !doc.HasMember("log_size") ||
      !doc["log_size"].IsUint64()) {
    ADD_FAILURE() << "/readyz: " << r.body;
    return 0;
  }
  return doc["log_size"].GetUint64();
}

}  // namespace clover::adversarial
