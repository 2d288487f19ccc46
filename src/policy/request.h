// What the policy decides about: one request by one principal, over some fields
// of one subject. Everything is a non-owning view so that the gateway can build
// a Request from its parsed HTTP request and the deployment config without
// allocating; the viewed strings must outlive the Decide call.
#ifndef CLOVER_POLICY_REQUEST_H_
#define CLOVER_POLICY_REQUEST_H_

#include <span>
#include <string>

#include "absl/strings/string_view.h"

namespace clover::policy {

struct Request {
  absl::string_view principal_id;
  absl::string_view
      principal_kind;  // "service" | "employee" | "auditor" | "admin"
  absl::string_view principal_org;
  std::span<const std::string>
      principal_roles;                  // e.g. a config Principal's `roles`
  absl::string_view principal_country;  // ISO 3166-1 alpha-2, upper case
  absl::string_view principal_jurisdiction;  // "eu"
  absl::string_view purpose;                 // "customer_support"
  absl::string_view action;                  // "read", "export", ...
  absl::string_view subject_jurisdiction;    // the subject's home jurisdiction
  // Where the data goes: the principal's jurisdiction for an interactive read,
  // the named jurisdiction for an export.
  absl::string_view destination;
  absl::string_view
      approval_justification;  // empty when the request names none
};

// One field of the request, as the schema describes it.
struct FieldRef {
  absl::string_view name;
  absl::string_view category;
  bool restricted = false;
};

}  // namespace clover::policy

#endif  // CLOVER_POLICY_REQUEST_H_
