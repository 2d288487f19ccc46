// Small helpers shared by the gateway's handlers: JSON bodies, purposes, field
// lists.
#ifndef CLOVER_GATEWAY_REQUEST_UTIL_H_
#define CLOVER_GATEWAY_REQUEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/config.h"
#include "rapidjson/document.h"
#include "server/http.h"

namespace clover::gateway {

// The request's purpose from the X-Clover-Purpose header. InvalidArgument if it
// is missing or not an identifier (lower-case letters, digits, '_', '-', at
// most 64 bytes).
[[nodiscard]] absl::StatusOr<std::string> PurposeOf(
    const server::HttpRequest& request);

// True for a jurisdiction id, purpose or similar identifier.
[[nodiscard]] bool IsIdentifier(absl::string_view s);

// Resolves a comma-separated list (or, when `names` is empty, every schema
// field) to the schema's field specs, in the order given. InvalidArgument
// naming an unknown or repeated field.
[[nodiscard]] absl::StatusOr<std::vector<const FieldSpec*>> ResolveFields(
    const Schema& schema, const std::vector<std::string>& names);
[[nodiscard]] std::vector<std::string> SplitList(absl::string_view csv);

// Parses a JSON object body. InvalidArgument naming the byte offset of a syntax
// error, or "request body must be a JSON object".
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
