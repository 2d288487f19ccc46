// An owning request + field, for tools (explain, test cases, analyzer
// counterexamples) that build requests from text rather than from a live HTTP
// request.
#ifndef CLOVER_POLICY_REQUEST_DATA_H_
#define CLOVER_POLICY_REQUEST_DATA_H_

#include <string>
#include <vector>

#include "policy/request.h"

namespace clover::policy {

struct RequestData {
  std::string principal_id;
  std::string principal_kind;
  std::string principal_org;
  std::vector<std::string> principal_roles;
  std::string principal_country;
  std::string principal_jurisdiction;
  std::string purpose;
  std::string action;
  std::string subject_jurisdiction;
  std::string destination;
  std::string approval_justification;

  // A view valid while *this is alive and unmodified.
  Request View() const {
    return Request{principal_id,
                   principal_kind,
                   principal_org,
                   principal_roles,
                   principal_country,
                   principal_jurisdiction,
                   purpose,
                   action,
                   subject_jurisdiction,
                   destination,
                   approval_justification};
  }
};

struct FieldData {
  std::string name;
  std::string category;
  bool restricted = false;
  FieldRef View() const { return FieldRef{name, category, restricted}; }
};

}  // namespace clover::policy

#endif  // CLOVER_POLICY_REQUEST_DATA_H_
