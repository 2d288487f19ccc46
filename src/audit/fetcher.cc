#include "audit/fetcher.h"

#include <curl/curl.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace clover::audit {
namespace {

struct Sink {
  std::string data;
  size_t max;
  bool overflow = false;
};

size_t Write(char* p, size_t size, size_t nmemb, void* user) {
  Sink* s = static_cast<Sink*>(user);
  const size_t n = size * nmemb;
  if (s->data.size() + n > s->max) {
    s->overflow = true;
    return 0;
  }
  s->data.append(p, n);
  return n;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

}  // namespace

absl::StatusOr<std::string> HttpGet(const std::string& url,
                                    absl::Duration timeout, size_t max_bytes) {
  static const bool init = [] {
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  }();
  if (!init) return absl::InternalError("libcurl initialisation failed");
  // One handle per thread keeps connections alive across calls.
  thread_local std::unique_ptr<CURL, CurlDeleter> handle(curl_easy_init());
  CURL* c = handle.get();
  if (c == nullptr) return absl::InternalError("libcurl initialisation failed");
  curl_easy_reset(c);
  Sink sink{"", max_bytes};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  CURLcode rc = curl_easy_perform(c);
  if (sink.overflow) {
    return absl::UnavailableError(
        absl::StrCat("GET ", url, ": response larger than ", max_bytes));
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat("GET ", url, ": ", curl_easy_strerror(rc)));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status == 404)
    return absl::NotFoundError(absl::StrCat("GET ", url, ": 404"));
  if (status != 200) {
    return absl::UnavailableError(absl::StrCat("GET ", url, ": HTTP ", status));
  }
  return std::move(sink.data);
}

FetchFn HttpFetcher(std::string base_url, absl::Duration timeout,
                    size_t max_bytes) {
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  return [base_url, timeout, max_bytes](absl::string_view path) {
    return HttpGet(absl::StrCat(base_url, "/", path), timeout, max_bytes);
  };
}

}  // namespace clover::audit
