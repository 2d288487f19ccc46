#include "log/fetch.h"

#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "log/http_handlers.h"
#include "net/http_client.h"

namespace clover::log {

Fetcher HttpFetcher(std::string base_url, absl::Duration timeout,
                    size_t max_bytes) {
  while (absl::EndsWith(base_url, "/")) base_url.pop_back();
  return [base_url, timeout,
          max_bytes](absl::string_view path) -> absl::StatusOr<std::string> {
    // Each calling thread keeps its own connections alive.
    return net::GetOk(net::ThreadHttpClient(),
                      absl::StrCat(base_url, "/", path), timeout, max_bytes,
                      /*accept_compressed=*/true);
  };
}

Poster HttpPoster(absl::Duration timeout) {
  return [timeout](const std::string& url, const std::string& content_type,
                   const std::string& request) -> absl::StatusOr<PostResponse> {
    net::HttpCall call;
    call.method = "POST";
    call.url = url;
    call.headers = {absl::StrCat("Content-Type: ", content_type)};
    call.body = request;
    call.timeout = timeout;
    call.max_answer_bytes = size_t{64} << 10;
    absl::StatusOr<net::HttpAnswer> answer =
        net::ThreadHttpClient().Send(call);
    if (!answer.ok()) return answer.status();
    return PostResponse{answer->status, std::move(answer->content_type),
                        std::move(answer->body)};
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
