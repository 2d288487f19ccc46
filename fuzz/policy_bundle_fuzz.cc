// Feeds arbitrary bytes to the policy bundle parser. Checks, beyond "no crash":
//   - a bundle that parses compiles, and the compiled evaluator agrees with the
//   reference
//     evaluator on a few requests;
//   - the analyzer terminates within its state budget.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "policy/analyzer.h"
#include "policy/bundle.h"
#include "policy/compiled_policy.h"
#include "policy/reference_evaluator.h"
#include "policy/request_data.h"

namespace {

using namespace clover::policy;

RequestData MakeRequest(int variant) {
  RequestData r;
  r.principal_id = variant ? "eu-support-1" : "x";
  r.principal_kind = variant ? "employee" : "service";
  r.principal_org = "clover-eu-support";
  r.principal_roles = {"support", variant ? "legal" : "engineer"};
  r.principal_country = variant ? "IE" : "CN";
  r.principal_jurisdiction = variant ? "eu" : "cn";
  r.purpose = "customer_support";
  r.action = variant ? "read" : "export";
  r.subject_jurisdiction = "eu";
  r.destination = variant ? "eu" : "cn";
  r.approval_justification = variant ? "LEGAL-1" : "";
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<Bundle> bundle = ParseBundle(text, "fuzz.yaml");
  if (!bundle.ok()) return 0;
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> policy =
      CompiledPolicy::Compile(*bundle);
  if (!policy.ok()) return 0;
  const std::vector<FieldData> fields = {{"email", "contact", true},
                                         {"name", "identity", false},
                                         {"x", "content", false}};
  std::vector<FieldRef> refs;
  for (const FieldData& f : fields) refs.push_back(f.View());
  std::vector<FieldDecision> out(refs.size());
  for (int variant = 0; variant < 2; ++variant) {
    const RequestData r = MakeRequest(variant);
    (*policy)->Decide(r.View(), refs, out);
    for (size_t i = 0; i < refs.size(); ++i) {
      const ReferenceDecision ref =
          EvaluateReference(*bundle, r.View(), refs[i]);
      if (ref.effect != out[i].effect ||
          ref.deciding_rule != out[i].deciding_rule)
        std::abort();
    }
  }
  AnalysisOptions options;
  options.max_states = 20000;
  (void)Analyze(*bundle, options);
  return 0;
}
