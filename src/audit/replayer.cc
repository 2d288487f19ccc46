#include "audit/replayer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "entry/decide.h"
#include "policy/bundle.h"
#include "policy/signature.h"

namespace clover::audit {
namespace {

constexpr size_t kMaxFields = 256;

Replayer::Result Failed(Replayer::Verdict v, std::string detail) {
  Replayer::Result r;
  r.verdict = v;
  r.detail = std::move(detail);
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Replayer>> Replayer::Load(
    const std::vector<std::string>& bundle_paths,
    const std::vector<std::string>& auditor_keys) {
  auto r = std::make_unique<Replayer>();
  for (const std::string& path : bundle_paths) {
    CLOVER_ASSIGN_OR_RETURN(SignedPolicy p, LoadOne(path, auditor_keys));
    r->policies_.push_back(std::move(p));
  }
  for (const SignedPolicy& p : r->policies_)
    r->by_hash_[p.sha256] = p.policy.get();
  return r;
}

absl::StatusOr<SignedPolicy> Replayer::LoadOne(
    const std::string& path, const std::vector<std::string>& auditor_keys) {
  CLOVER_ASSIGN_OR_RETURN(std::string text, policy::ReadFileToString(path));
  CLOVER_ASSIGN_OR_RETURN(policy::Bundle bundle,
                          policy::ParseBundle(text, path));
  const std::string sig_path = policy::SignaturePath(path);
  absl::StatusOr<std::string> sig = policy::ReadFileToString(sig_path);
  if (!sig.ok()) {
    return absl::NotFoundError(
        absl::StrCat(path, ": no signature file '", sig_path,
                     "' (sign it with `clover policy sign`)"));
  }
  absl::Status v =
      policy::VerifyPolicySignature(bundle.sha256, *sig, auditor_keys);
  if (!v.ok())
    return absl::Status(v.code(), absl::StrCat(sig_path, ": ", v.message()));
  CLOVER_ASSIGN_OR_RETURN(auto compiled,
                          policy::CompiledPolicy::Compile(bundle));
  return SignedPolicy{path, bundle.sha256, bundle.description, bundle.version,
                      compiled};
}

void Replayer::Add(SignedPolicy p) {
  if (by_hash_.contains(p.sha256)) return;
  policies_.push_back(std::move(p));
  by_hash_[policies_.back().sha256] = policies_.back().policy.get();
}

std::unique_ptr<Replayer> Replayer::FromPolicies(
    std::vector<std::shared_ptr<const policy::CompiledPolicy>> policies) {
  auto r = std::make_unique<Replayer>();
  for (auto& p : policies) {
    r->policies_.push_back(SignedPolicy{p->bundle().filename, p->sha256(),
                                        p->bundle().description,
                                        p->bundle().version, p});
  }
  for (const SignedPolicy& p : r->policies_)
    r->by_hash_[p.sha256] = p.policy.get();
  return r;
}

Replayer::Result Replayer::Replay(const entry::DecisionEntry& e,
                                  const Principal* who) const {
  auto it = by_hash_.find(e.policy);
  if (it == by_hash_.end()) {
    return Failed(
        Verdict::kUnsignedPolicy,
        absl::StrCat("decision made under policy ", e.policy.substr(0, 16),
                     "..., which the auditor did not sign"));
  }
  const policy::CompiledPolicy& p = *it->second;
  if (e.fields.size() > kMaxFields) {
    return Failed(Verdict::kMismatch,
                  absl::StrCat("decision lists ", e.fields.size(), " fields"));
  }
  thread_local entry::Verdicts verdicts;
  entry::DecideEntry(p, who, e, &verdicts);
  const size_t n = e.fields.size();
  Result result;
  for (size_t i = 0; i < n; ++i) {
    const entry::FieldEntry& f = e.fields[i];
    const policy::FieldDecision& d = verdicts.decisions[i];
    const std::vector<absl::string_view>& matched = verdicts.matched[i];
    // A live grant turns `approval` into the access it grants; the grant is
    // named in the entry and its transitions are in the log.
    const bool granted = d.effect == policy::Effect::kApproval &&
                         !e.approval.empty() &&
                         f.effect < policy::Effect::kApproval;
    const absl::string_view want_rule = entry::DecidingRuleId(p, d);
    bool ok = (f.effect == d.effect || granted) && f.decided_by == want_rule;
    // The logged matching rules must be the re-derived ones
    // (order-insensitive).
    if (ok && f.rules.size() != matched.size()) ok = false;
    for (size_t k = 0; k < matched.size() && ok; ++k) {
      ok = std::find(f.rules.begin(), f.rules.end(), matched[k]) !=
           f.rules.end();
    }
    if (ok && d.effect == policy::Effect::kApproval && !e.approval.empty()) {
      result.approval_fields.push_back(
          {i, d.deciding_rule == policy::kDefaultDeny
                  ? absl::InfiniteDuration()
                  : p.rule(d.deciding_rule).approval.max_duration});
    }
    if (!ok) {
      return Failed(
          Verdict::kMismatch,
          absl::StrCat("field '", f.name, "': logged ",
                       policy::ToString(f.effect), " by '", f.decided_by, "' [",
                       absl::StrJoin(f.rules, ","), "], policy decides ",
                       policy::ToString(d.effect), " by '",
                       want_rule.empty() ? "default-deny" : want_rule, "'"));
    }
  }
  return result;
}

}  // namespace clover::audit
