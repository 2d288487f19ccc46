#include "net/http_client.h"

#include <curl/curl.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace clover::net {
namespace {

bool InitCurlOnce() {
  static const bool ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  return ok;
}

struct BodySink {
  std::string* out;
  size_t max;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const size_t len = size * n;
  if (sink->out->size() + len > sink->max) {
    sink->too_large = true;
    return 0;  // aborts the transfer
  }
  sink->out->append(data, len);
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  absl::string_view line(data, size * n);
  const size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    auto* headers =
        static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
    headers->emplace_back(
        absl::AsciiStrToLower(line.substr(0, colon)),
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return size * n;
}

// The URL as errors name it: without a query or user information, where
// credentials (webhook tokens, basic auth) may sit.
std::string ForMessages(absl::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  const size_t scheme = url.find("://");
  const size_t authority = scheme == absl::string_view::npos ? 0 : scheme + 3;
  const size_t path = url.find('/', authority);
  const size_t at = url.substr(0, path).rfind('@');
  if (at != absl::string_view::npos && at >= authority) {
    return absl::StrCat(url.substr(0, authority), url.substr(at + 1));
  }
  return std::string(url);
}

}  // namespace

std::string HttpAnswer::Header(absl::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return "";
}

HttpClient::HttpClient() : curl_(InitCurlOnce() ? curl_easy_init() : nullptr) {}

HttpClient::~HttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

absl::StatusOr<HttpAnswer> HttpClient::Send(const HttpCall& call) {
  CURL* c = static_cast<CURL*>(curl_);
  if (c == nullptr)
    return absl::InternalError("libcurl could not be initialised");
  curl_easy_reset(c);
  HttpAnswer answer;
  BodySink sink{&answer.body, call.max_answer_bytes};
  const std::string url(call.url);
  const std::string method(call.method);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(call.timeout)));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "clover/" CLOVER_VERSION);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &answer.headers);
  if (call.accept_compressed) curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  if (call.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (!call.ca_file.empty())
    curl_easy_setopt(c, CURLOPT_CAINFO, call.ca_file.c_str());
  if (!call.client_cert_file.empty())
    curl_easy_setopt(c, CURLOPT_SSLCERT, call.client_cert_file.c_str());
  if (!call.client_key_file.empty())
    curl_easy_setopt(c, CURLOPT_SSLKEY, call.client_key_file.c_str());
  if (!call.body.empty() || call.method == "POST" || call.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, call.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(call.body.size()));
  }
  curl_slist* list = nullptr;
  for (const std::string& h : call.headers)
    list = curl_slist_append(list, h.c_str());
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(list);
  if (sink.too_large) {
    return absl::ResourceExhaustedError(
        absl::StrCat(method, " ", ForMessages(url), ": answer larger than ",
                     call.max_answer_bytes, " bytes"));
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(method, " ", ForMessages(url),
                                               ": ", curl_easy_strerror(rc)));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  answer.status = static_cast<int>(status);
  char* type = nullptr;
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
  if (type != nullptr) answer.content_type = type;
  return answer;
}

HttpClient& ThreadHttpClient() {
  thread_local HttpClient client;
  return client;
}

absl::StatusOr<std::string> GetOk(HttpClient& client, absl::string_view url,
                                  absl::Duration timeout, size_t max_bytes,
                                  bool accept_compressed) {
  HttpCall call;
  call.url = url;
  call.timeout = timeout;
  call.max_answer_bytes = max_bytes;
  call.accept_compressed = accept_compressed;
  absl::StatusOr<HttpAnswer> answer = client.Send(call);
  if (!answer.ok()) return answer.status();
  if (answer->status == 404)
    return absl::NotFoundError(
        absl::StrCat("GET ", ForMessages(url), ": 404 not found"));
  if (answer->status != 200) {
    return absl::UnavailableError(absl::StrCat(
        "GET ", ForMessages(url), ": HTTP status ", answer->status));
  }
  return std::move(answer->body);
}

}  // namespace clover::net
