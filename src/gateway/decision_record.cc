#include "gateway/decision_record.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/canonical_json.h"

namespace clover::gateway {
namespace {

// Member writer that relies on the caller emitting keys in sorted (UTF-16)
// order; all keys here are ASCII, so byte order is code-unit order.
class Obj {
 public:
  explicit Obj(std::string* out) : out_(out) { out_->push_back('{'); }
  ~Obj() { out_->push_back('}'); }
  // `k` is one of this file's literal member names: plain ASCII that needs no
  // escaping, so it is copied as is (a decision has some eighty of them).
  void Key(absl::string_view k) {
    const size_t at = out_->size();
    out_->resize(at + k.size() + (first_ ? 3 : 4));
    char* p = out_->data() + at;
    if (!first_) *p++ = ',';
    first_ = false;
    *p++ = '"';
    std::memcpy(p, k.data(), k.size());
    p += k.size();
    *p++ = '"';
    *p = ':';
  }
  void Str(absl::string_view k, absl::string_view v) {
    Key(k);
    AppendJsonString(v, out_);
  }
  void Int(absl::string_view k, int64_t v) {
    Key(k);
    absl::StrAppend(out_, v);
  }
  template <typename Range>
  void StrArray(absl::string_view k, const Range& items) {
    Key(k);
    out_->push_back('[');
    bool first = true;
    for (const auto& s : items) {
      if (!first) out_->push_back(',');
      first = false;
      AppendJsonString(s, out_);
    }
    out_->push_back(']');
  }

 private:
  std::string* out_;
  bool first_ = true;
};

}  // namespace

std::string FormatRfc3339Millis(absl::Time t) {
  // absl::FormatTime costs about a microsecond; every decision is stamped,
  // and consecutive stamps share their second. So the "YYYY-MM-DDTHH:MM:SS"
  // part is formatted once per second per thread.
  const int64_t millis = absl::ToUnixMillis(t);  // rounds toward -inf
  int64_t second = millis / 1000;
  int64_t milli = millis % 1000;
  if (milli < 0) {
    milli += 1000;
    second -= 1;
  }
  thread_local int64_t cached_second = 0;
  thread_local std::string cached_prefix;
  if (cached_prefix.empty() || cached_second != second) {
    cached_prefix =
        absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(second),
                         absl::UTCTimeZone());
    cached_second = second;
  }
  std::string out;
  out.reserve(cached_prefix.size() + 5);
  out.append(cached_prefix);
  out.push_back('.');
  out.push_back(static_cast<char>('0' + milli / 100));
  out.push_back(static_cast<char>('0' + milli / 10 % 10));
  out.push_back(static_cast<char>('0' + milli % 10));
  out.push_back('Z');
  return out;
}

void AppendDecisionJson(const DecisionRecord& r, std::string* out) {
  Obj o(out);
  o.Str("action", r.action);
  if (!r.approval.empty()) o.Str("approval", r.approval);
  o.Int("bytes", r.bytes);
  o.Str("destination", r.destination);
  o.Key("field_groups");
  if (r.field_groups_json.empty()) {
    out->append("[]");
  } else {
    out->append(r.field_groups_json.data(), r.field_groups_json.size());
  }
  o.Str("node", r.node);
  if (!r.outcome.empty()) o.Str("outcome", r.outcome);
  o.Str("policy", r.policy);
  o.Key("principal");
  {
    const Principal& p = *r.principal;
    Obj po(out);
    po.Str("country", p.country);
    po.Str("id", p.id);
    po.Str("jurisdiction", p.jurisdiction);
    po.Str("kind", ToString(p.kind));
    po.Str("org", p.org);
    po.StrArray("roles", p.roles);
  }
  o.Str("purpose", r.purpose);
  o.Int("records", r.records);
  o.Str("region", r.region);
  if (!r.subject.empty()) o.Str("subject", r.subject);
  if (!r.subject_jurisdiction.empty())
    o.Str("subject_jurisdiction", r.subject_jurisdiction);
  if (r.subjects >= 0) o.Int("subjects", r.subjects);
  o.Str("time", FormatRfc3339Millis(r.time));
  o.Str("type", "decision");
  o.Int("v", 2);
}

}  // namespace clover::gateway
