#include "server/http.h"

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/canonical_json.h"
#include "server/url.h"

namespace clover::server {

absl::Status WithHttpStatus(absl::Status status, int http_status) {
  status.SetPayload(kHttpStatusPayload, absl::Cord(absl::StrCat(http_status)));
  return status;
}

absl::string_view HttpRequest::Header(absl::string_view lower_name) const {
  auto it = headers.find(lower_name);
  if (it == headers.end()) return {};
  return it->second;
}

std::string HttpRequest::QueryParam(absl::string_view name) const {
  std::string value;
  if (!FindQueryParam(query, name, &value)) return {};
  return value;
}

void HttpRequest::NotePrincipal(absl::string_view id) const {
  if (note != nullptr) note->principal = std::string(id);
}

bool HttpRequest::HasQueryParam(absl::string_view name) const {
  return FindQueryParam(query, name, nullptr);
}

HttpResponse HttpResponse::Error(int status, absl::string_view code,
                                 absl::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body.reserve(32 + code.size() + message.size());
  response.body += "{\"error\":{\"code\":";
  AppendJsonString(code, &response.body);
  response.body += ",\"message\":";
  AppendJsonString(message, &response.body);
  response.body += "}}";
  response.cause = absl::StrCat(code, ": ", message);
  EnsureRetryAfter(response);
  return response;
}

void EnsureRetryAfter(HttpResponse& response) {
  if (response.status != 429 && response.status != 503) return;
  for (const auto& [name, value] : response.headers) {
    if (absl::EqualsIgnoreCase(name, "Retry-After")) return;
  }
  response.headers.emplace_back("Retry-After",
                                absl::StrCat(kRetryAfterSeconds));
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

HttpResponse HttpResponse::FromStatus(const absl::Status& status) {
  int http = 500;
  absl::string_view code = "internal";
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return Json(200, "{}");
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      http = 400;
      code = "invalid_argument";
      break;
    case absl::StatusCode::kUnauthenticated:
      http = 401;
      code = "unauthenticated";
      break;
    case absl::StatusCode::kPermissionDenied:
      http = 403;
      code = "permission_denied";
      break;
    case absl::StatusCode::kNotFound:
      http = 404;
      code = "not_found";
      break;
    case absl::StatusCode::kAlreadyExists:
      http = 409;
      code = "already_exists";
      break;
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kFailedPrecondition:
      http = 409;
      code = "failed_precondition";
      break;
    case absl::StatusCode::kResourceExhausted:
      http = 429;
      code = "resource_exhausted";
      break;
    case absl::StatusCode::kUnimplemented:
      http = 501;
      code = "unimplemented";
      break;
    case absl::StatusCode::kUnavailable:
      http = 503;
      code = "unavailable";
      break;
    case absl::StatusCode::kDeadlineExceeded:
      http = 504;
      code = "deadline_exceeded";
      break;
    default:
      break;
  }
  if (auto payload = status.GetPayload(kHttpStatusPayload);
      payload.has_value()) {
    int override_status = 0;
    if (absl::SimpleAtoi(std::string(*payload), &override_status) &&
        override_status >= 400 && override_status <= 599) {
      http = override_status;
      if (code == "internal") code = "error";
    }
  }
  // Codes that report the node's own failure (storage, network, bugs) keep
  // their message in the server log only: it may name a socket path, a host or
  // a file. The client learns the class of failure, no detail.
  absl::string_view generic;
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      generic = "service unavailable";
      break;
    case absl::StatusCode::kDeadlineExceeded:
      generic = "deadline exceeded";
      break;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kUnimplemented:
      break;
    default:  // Internal, Unknown, DataLoss, Cancelled, ...
      generic = "internal error";
      break;
  }
  if (!generic.empty()) {
    HttpResponse response = Error(http, code, generic);
    response.cause =
        status.ToString(absl::StatusToStringMode::kWithNoExtraData);
    return response;
  }
  return Error(http, code, status.message());
}

}  // namespace clover::server
