#include "audit/release_check.h"

#include <iterator>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/json_fields.h"
#include "core/rfc3339.h"
#include "entry/log_entry.h"
#include "net/http_client.h"
#include "policy/effect.h"
#include "rapidjson/document.h"

namespace clover::audit {
namespace {

using Verdict = ReleaseJudgement::Verdict;

// Whether the decision returned data: something was served, under a field
// that is not denied (an approval field only with its grant).
bool ReturnedData(const entry::DecisionEntry& d) {
  if (d.records == 0) return false;
  for (const entry::FieldEntry& f : d.fields) {
    if (f.effect == policy::Effect::kDeny) continue;
    if (f.effect == policy::Effect::kApproval && d.approval.empty()) continue;
    return true;
  }
  return false;
}

// Why entry `raw` does not justify release `r` ("" when it does).
std::string Mismatch(const ReleaseEntry& r, absl::string_view raw,
                     absl::Duration max_delay) {
  entry::LogEntry e;
  if (!entry::ParseLogEntry(raw, &e).ok() ||
      e.type != entry::EntryType::kDecision) {
    return "is not a decision";
  }
  const entry::DecisionEntry& d = e.decision;
  if (!r.decision_node.empty() && d.node != r.decision_node) {
    return absl::StrCat("is node '", d.node, "''s, not '", r.decision_node,
                        "''s");
  }
  if (d.action != r.code) {
    return absl::StrCat("is a '", d.action, "', not a '", r.code, "'");
  }
  if (d.principal_id != r.principal) {
    return absl::StrCat("is principal '", d.principal_id, "''s, not '",
                        r.principal, "''s");
  }
  if (d.purpose != r.purpose) {
    return absl::StrCat("is for purpose '", d.purpose, "', not '", r.purpose,
                        "'");
  }
  // Exports and aggregates decide over many subjects and name none.
  if (!d.subject.empty() && d.subject != r.subject) {
    return "is about another subject";
  }
  if (d.subject.empty() && r.code != "export" && r.code != "aggregate") {
    return "names no subject";
  }
  if (!ReturnedData(d)) return "did not allow any data to be returned";
  if (r.time - d.time > max_delay) {
    return absl::StrCat("was made ", absl::FormatDuration(r.time - d.time),
                        " before the release (more than ",
                        absl::FormatDuration(max_delay), ")");
  }
  // A read's entry is durable before its release; an export's, aggregate's
  // or detokenization's is written once its reads are done.
  const absl::Duration after = r.code == "read" ? kReleaseSkew : max_delay;
  if (d.time - r.time > after) {
    return absl::StrCat("was made ", absl::FormatDuration(d.time - r.time),
                        " after the release");
  }
  return "";
}

}  // namespace

FetchFn ReleaseLogFetcher(const ReleaseLogConfig& config) {
  if (config.ca_file.empty()) return HttpFetcher(config.log.url);
  std::string base = config.log.url;
  if (!base.empty() && base.back() != '/') base.push_back('/');
  return [base, ca = config.ca_file](
             absl::string_view path) -> absl::StatusOr<std::string> {
    const std::string url = base + std::string(path);
    net::HttpCall call;
    call.url = url;
    call.ca_file = ca;
    call.timeout = absl::Seconds(10);
    call.max_answer_bytes = size_t{8} << 20;
    absl::StatusOr<net::HttpAnswer> a = net::ThreadHttpClient().Send(call);
    if (!a.ok()) return absl::UnavailableError(a.status().message());
    if (a->status == 404) return absl::NotFoundError(url);
    if (a->status != 200) {
      return absl::UnavailableError(absl::StrCat(url, ": HTTP ", a->status));
    }
    return std::move(a->body);
  };
}

absl::StatusOr<ReleaseEntry> ParseReleaseEntry(absl::string_view json) {
  rapidjson::Document d;
  if (absl::Status s = ParseJsonObject(json, d, "release log entry"); !s.ok())
    return s;
  ReleaseEntry r;
  std::string time;
  for (auto [name, out, required] :
       {std::tuple{"type", &r.type, true}, std::tuple{"time", &time, true},
        std::tuple{"region", &r.region, true},
        std::tuple{"outcome", &r.outcome, false},
        std::tuple{"reason", &r.reason, false},
        std::tuple{"code", &r.code, false},
        std::tuple{"decision_log", &r.decision_log, false},
        std::tuple{"decision_node", &r.decision_node, false},
        std::tuple{"node", &r.node, false},
        std::tuple{"principal", &r.principal, false},
        std::tuple{"purpose", &r.purpose, false},
        std::tuple{"subject", &r.subject, false},
        std::tuple{"by", &r.by, false}}) {
    if (absl::Status s = GetString(d, name, required, out); !s.ok()) return s;
  }
  absl::StatusOr<absl::Time> t = ParseRfc3339(time);
  if (!t.ok()) return absl::InvalidArgumentError("field 'time': not RFC 3339");
  r.time = *t;
  if (d.HasMember("decision_index")) {
    uint64_t i = 0;
    if (absl::Status s = GetUint64(d, "decision_index", true, &i); !s.ok())
      return s;
    r.decision_index = i;
  }
  if (r.type == "release" && r.outcome != "released" && r.outcome != "refused")
    return absl::InvalidArgumentError("field 'outcome': released or refused");
  return r;
}

std::string ReleaseCountsKey(absl::string_view origin) {
  return absl::StrCat("release/stats/", origin);
}

std::string EncodeReleaseCounts(const ReleaseCounts& c) {
  return absl::StrCat(c.released, " ", c.justified, " ", c.unjustified, " ",
                      c.maintenance, " ", c.refused, " ", c.cutoffs, " ",
                      c.restores, " ", c.pending);
}

absl::StatusOr<ReleaseCounts> DecodeReleaseCounts(absl::string_view s) {
  std::vector<absl::string_view> p = absl::StrSplit(s, ' ');
  ReleaseCounts c;
  uint64_t* fields[] = {&c.released,    &c.justified, &c.unjustified,
                        &c.maintenance, &c.refused,   &c.cutoffs,
                        &c.restores,    &c.pending};
  if (p.size() != std::size(fields))
    return absl::InvalidArgumentError("release counts: 8 numbers expected");
  for (size_t i = 0; i < p.size(); ++i) {
    if (!absl::SimpleAtoi(p[i], fields[i]))
      return absl::InvalidArgumentError("release counts: not a number");
  }
  return c;
}

ReleaseJudgement JudgeRelease(const ReleaseEntry& r,
                              const VerifiedEntryFn& lookup,
                              absl::Duration max_delay) {
  ReleaseJudgement j;
  if (r.type != "release" || r.outcome != "released") return j;
  auto unjustified = [&](std::string why) {
    j.verdict = Verdict::kUnjustified;
    j.why = std::move(why);
    return j;
  };
  if (r.code == "maintenance") {
    // The vault's own re-wraps name no decision, and only it asks for them.
    if (r.principal != "vault") {
      return unjustified(absl::StrCat("a maintenance release for principal '",
                                      r.principal, "', not the vault"));
    }
    return j;
  }
  if (!r.decision_index.has_value())
    return unjustified("the release names no decision log index");
  if (r.decision_log.empty())
    return unjustified("the release names no decision log");
  const bool exact = r.code == "read";
  const uint64_t first = *r.decision_index;
  const uint64_t last = exact ? first : first + kForwardScan - 1;
  std::string first_mismatch;
  for (uint64_t i = first; i <= last; ++i) {
    absl::StatusOr<std::string> raw = lookup(r.decision_log, i);
    if (absl::IsNotFound(raw.status())) {
      return unjustified(absl::StrCat("the auditor does not follow log '",
                                      r.decision_log, "'"));
    }
    if (!raw.ok()) {
      // Not verified that far yet (or not served now): a later poll decides.
      // A non-read release whose window reaches past the verified tree is
      // pending only while nothing before matched.
      j.verdict = Verdict::kPending;
      j.why = std::string(raw.status().message());
      return j;
    }
    std::string why = Mismatch(r, *raw, max_delay);
    if (why.empty()) {
      j.verdict = Verdict::kJustified;
      j.decision_index = i;
      j.decision_entry = *std::move(raw);
      return j;
    }
    if (i == first) {
      first_mismatch = std::move(why);
      j.decision_index = i;
      j.decision_entry = *std::move(raw);
    }
  }
  if (exact) {
    return unjustified(absl::StrCat("entry ", first, " of log '",
                                    r.decision_log, "' ", first_mismatch));
  }
  return unjustified(absl::StrCat("no entry ", first, "..", last, " of log '",
                                  r.decision_log,
                                  "' is a decision that "
                                  "justifies it (entry ",
                                  first, " ", first_mismatch, ")"));
}

}  // namespace clover::audit
