#include "log/fetch.h"

#include <curl/curl.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "log/http_handlers.h"

namespace clover::log {
namespace {

constexpr size_t kMaxBody = 64 << 20;
constexpr size_t kMaxPostAnswer = 64 << 10;

struct Body {
  std::string data;
  bool too_large = false;
};

size_t WriteBody(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* body = static_cast<Body*>(userdata);
  const size_t n = size * nmemb;
  if (body->data.size() + n > kMaxBody) {
    body->too_large = true;
    return 0;  // aborts the transfer
  }
  body->data.append(ptr, n);
  return n;
}

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

void InitCurlOnce() {
  static const bool done = [] {
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  }();
  (void)done;
}

}  // namespace

Fetcher HttpFetcher(std::string base_url, absl::Duration timeout) {
  while (absl::EndsWith(base_url, "/")) base_url.pop_back();
  InitCurlOnce();
  return [base_url,
          timeout](absl::string_view path) -> absl::StatusOr<std::string> {
    const std::string url = absl::StrCat(base_url, "/", path);
    std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
    if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
    Body body;
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(timeout)));
    curl_easy_setopt(curl.get(), CURLOPT_ACCEPT_ENCODING,
                     "");  // gzip or identity
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &WriteBody);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl.get(), CURLOPT_USERAGENT,
                     "clover-log-client/" CLOVER_VERSION);
    const CURLcode rc = curl_easy_perform(curl.get());
    if (body.too_large)
      return absl::ResourceExhaustedError(
          absl::StrCat(url, ": body too large"));
    if (rc != CURLE_OK) {
      return absl::UnavailableError(
          absl::StrCat(url, ": ", curl_easy_strerror(rc)));
    }
    long code = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &code);
    if (code == 404)
      return absl::NotFoundError(absl::StrCat(url, ": 404 not found"));
    if (code != 200) {
      return absl::UnavailableError(absl::StrCat(url, ": HTTP status ", code));
    }
    return std::move(body.data);
  };
}

Poster HttpPoster(absl::Duration timeout) {
  InitCurlOnce();
  return [timeout](const std::string& url, const std::string& content_type,
                   const std::string& request) -> absl::StatusOr<PostResponse> {
    std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
    if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
    Body body;
    const std::string type = absl::StrCat("Content-Type: ", content_type);
    curl_slist* headers = curl_slist_append(nullptr, type.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(timeout)));
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, request.data());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.size()));
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &WriteBody);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl.get(), CURLOPT_USERAGENT,
                     "clover-log-client/" CLOVER_VERSION);
    const CURLcode rc = curl_easy_perform(curl.get());
    curl_slist_free_all(headers);
    if (body.too_large || body.data.size() > kMaxPostAnswer)
      return absl::ResourceExhaustedError(
          absl::StrCat(url, ": answer too large"));
    if (rc != CURLE_OK) {
      return absl::UnavailableError(
          absl::StrCat(url, ": ", curl_easy_strerror(rc)));
    }
    PostResponse out;
    long code = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &code);
    out.status = static_cast<int>(code);
    char* ct = nullptr;
    curl_easy_getinfo(curl.get(), CURLINFO_CONTENT_TYPE, &ct);
    if (ct != nullptr) out.content_type = ct;
    out.body = std::move(body.data);
    return out;
  };
}

Fetcher FileFetcher(std::string dir) {
  return [dir](absl::string_view path) -> absl::StatusOr<std::string> {
    if (absl::StrContains(path, "..")) {
      return absl::InvalidArgumentError(absl::StrCat("refusing path ", path));
    }
    const std::string file = absl::StrCat(dir, "/", path);
    std::ifstream in(file, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat(file, ": cannot open"));
    std::stringstream ss;
    ss << in.rdbuf();
    if (in.bad())
      return absl::InternalError(absl::StrCat(file, ": read error"));
    return ss.str();
  };
}

Fetcher HandlerFetcher(const LogHttpHandler& handler, std::string prefix) {
  return [&handler,
          prefix](absl::string_view path) -> absl::StatusOr<std::string> {
    server::HttpResponse r =
        handler.Handle("GET", absl::StrCat(prefix, "/", path), "");
    if (r.status == 404)
      return absl::NotFoundError(absl::StrCat(path, ": 404 not found"));
    if (r.status != 200) {
      return absl::UnavailableError(
          absl::StrCat(path, ": HTTP status ", r.status, ": ", r.body));
    }
    return std::move(r.body);
  };
}

}  // namespace clover::log
