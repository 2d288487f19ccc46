#include "audit/replayer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
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
    r->policies_.push_back(SignedPolicy{path, bundle.sha256, bundle.description,
                                        bundle.version, compiled});
  }
  for (const SignedPolicy& p : r->policies_)
    r->by_hash_[p.sha256] = p.policy.get();
  return r;
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
                                  const DirectoryPrincipal* who) const {
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
  policy::Request req;
  req.principal_id = e.principal_id;
  // Never the attributes an entry states when the auditor knows better.
  req.principal_kind = who ? who->kind : e.principal_kind;
  req.principal_org = who ? who->org : e.principal_org;
  req.principal_roles = who ? who->roles : e.principal_roles;
  req.principal_country = who ? who->country : e.principal_country;
  req.principal_jurisdiction =
      who ? who->jurisdiction : e.principal_jurisdiction;
  req.purpose = e.purpose;
  req.action = e.action;
  req.subject_jurisdiction = e.subject_jurisdiction;
  // An interactive read goes to where the reader works (the gateway sets it
  // so): the directory says where that is.
  req.destination = who != nullptr && IsInteractive(e.action)
                        ? absl::string_view(who->jurisdiction)
                        : absl::string_view(e.destination);
  req.approval_justification = e.justification;
  std::array<policy::FieldRef, kMaxFields> refs;
  std::array<policy::FieldDecision, kMaxFields> out;
  const size_t n = e.fields.size();
  for (size_t i = 0; i < n; ++i) {
    refs[i] = policy::FieldRef{e.fields[i].name, e.fields[i].category,
                               e.fields[i].restricted};
  }
  p.Decide(req, std::span<const policy::FieldRef>(refs.data(), n),
           std::span<policy::FieldDecision>(out.data(), n));
  Result result;
  for (size_t i = 0; i < n; ++i) {
    const entry::FieldEntry& f = e.fields[i];
    const policy::FieldDecision& d = out[i];
    // A live grant turns `approval` into the access it grants; the grant is
    // named in the entry and its transitions are in the log.
    const bool granted = d.effect == policy::Effect::kApproval &&
                         !e.approval.empty() &&
                         f.effect < policy::Effect::kApproval;
    absl::string_view want_rule = d.deciding_rule == policy::kDefaultDeny
                                      ? absl::string_view()
                                      : p.rule(d.deciding_rule).id;
    bool ok = (f.effect == d.effect || granted) && f.decided_by == want_rule;
    if (ok) {
      // The logged matching rules must be the re-derived ones
      // (order-insensitive).
      std::vector<int> all;
      if (!d.matched_complete()) all = p.MatchedRules(req, refs[i]);
      const size_t count = d.matched_complete() ? d.matched_count : all.size();
      if (f.rules.size() != count) {
        ok = false;
      } else {
        for (size_t k = 0; k < count && ok; ++k) {
          const int idx =
              d.matched_complete() ? static_cast<int>(d.matched[k]) : all[k];
          ok = std::find(f.rules.begin(), f.rules.end(), p.rule(idx).id) !=
               f.rules.end();
        }
      }
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
