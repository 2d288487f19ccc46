// Small helpers shared by the gateway's handlers: JSON bodies, purposes, field
// lists.
#ifndef CLOVER_GATEWAY_REQUEST_UTIL_H_
#define CLOVER_GATEWAY_REQUEST_UTIL_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/deployment.h"
#include "rapidjson/document.h"
#include "server/http.h"

namespace clover::gateway {

// The request's purpose from the X-Clover-Purpose header. InvalidArgument if it
// is missing or not an identifier (lower-case letters, digits, '_', '-', at
// most 64 bytes).
[[nodiscard]] absl::StatusOr<std::string> PurposeOf(
    const server::HttpRequest& request);

// OK when `purpose` is one the deployment declares (its `purposes` list);
// else an HttpError 400 "unknown_purpose". Every purpose a request names is
// checked, so that nothing keyed by purpose (token keys, budgets, metrics)
// grows with what clients invent.
[[nodiscard]] absl::Status CheckDeclaredPurpose(const Deployment& deployment,
                                                absl::string_view purpose);

// A client error with its own HTTP status and error code, carried as a status
// payload so that it passes through StatusOr-returning helpers unchanged. Its
// absl code is InvalidArgument.
[[nodiscard]] absl::Status HttpError(int status, absl::string_view code,
                                     absl::string_view message);
// The response for a status made by HttpError; nullopt for any other status.
[[nodiscard]] std::optional<server::HttpResponse> HttpErrorResponse(
    const absl::Status& status);

// A request that carries a body must declare it JSON: Content-Type
// application/json, parameters (charset=utf-8) allowed, case-insensitive.
// nullopt when acceptable (or there is no body), else a 415
// "unsupported_media_type" response. Refusing other types keeps a browser's
// form post (text/plain, x-www-form-urlencoded: no CORS preflight) from
// reaching a JSON endpoint with the user's ambient credentials.
[[nodiscard]] std::optional<server::HttpResponse> CheckJsonContentType(
    const server::HttpRequest& request);

// True for a jurisdiction id, purpose or similar identifier.
[[nodiscard]] bool IsIdentifier(absl::string_view s);

// Resolves a list of field names (or, when `names` is empty, every schema
// field) to the schema's field specs, in the order given. InvalidArgument
// naming an unknown or repeated field, or for an empty name.
[[nodiscard]] absl::StatusOr<std::vector<const FieldSpec*>> ResolveFields(
    const Schema& schema, const std::vector<std::string>& names);
// Splits a comma-separated list, trimming blanks around items. Empty items are
// kept (as "", which ResolveFields refuses) so that "email," or "," never
// silently mean something else; only an empty `csv` gives an empty list.
[[nodiscard]] std::vector<std::string> SplitList(absl::string_view csv);

// Parses a JSON object body. InvalidArgument naming the byte offset of a syntax
// error, "request body must be a JSON object", or "duplicate key 'k'" for a
// member name given twice in any object of the body.
[[nodiscard]] absl::Status ParseJsonObject(absl::string_view body,
                                           rapidjson::Document* doc);

// Members of a parsed body. InvalidArgument naming the member when it has the
// wrong type (or is missing and required).
[[nodiscard]] absl::StatusOr<std::string> StringMember(
    const rapidjson::Value& obj, absl::string_view name, bool required);
[[nodiscard]] absl::StatusOr<std::vector<std::string>> StringArrayMember(
    const rapidjson::Value& obj, absl::string_view name, bool required,
    size_t max_items);

// {"error":{"code":..,"message":..,<extra members>}}: `extra` is a JSON
// object's inner members (e.g. `"log_index":12`) or empty.
[[nodiscard]] server::HttpResponse ErrorWith(int status, absl::string_view code,
                                             absl::string_view message,
                                             absl::string_view extra);

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_REQUEST_UTIL_H_
