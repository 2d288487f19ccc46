#include "policy/compiled_policy.h"

#include <algorithm>
#include <bit>
#include <numeric>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"

namespace clover::policy {
namespace {

inline void SetBit(uint64_t* row, size_t bit) {
  row[bit >> 6] |= uint64_t{1} << (bit & 63);
}
inline void ClearBit(uint64_t* row, size_t bit) {
  row[bit >> 6] &= ~(uint64_t{1} << (bit & 63));
}

// Stack-sized scratch: up to 256 words (16,384 rules) without touching the
// heap.
using MaskBuffer = absl::InlinedVector<uint64_t, 256>;

}  // namespace

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompiledPolicy::Compile(
    const Bundle& bundle) {
  return Compile(Bundle(bundle));
}

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompiledPolicy::Compile(
    Bundle&& bundle) {
  if (bundle.rules.size() > kMaxRules) {
    return absl::InvalidArgumentError(
        absl::StrCat(bundle.filename, ": ", bundle.rules.size(),
                     " rules; at most ", kMaxRules, " are supported"));
  }
  std::shared_ptr<CompiledPolicy> p(new CompiledPolicy());
  p->bundle_ = std::move(bundle);
  const std::vector<Rule>& rules = p->bundle_.rules;
  const size_t n = rules.size();
  const size_t words = std::max<size_t>(1, (n + 63) / 64);
  p->words_ = words;

  // Bit order: most restrictive effect first, then file order; so the lowest
  // set bit of a match set is the deciding rule.
  p->rule_at_bit_.resize(n);
  std::iota(p->rule_at_bit_.begin(), p->rule_at_bit_.end(), 0u);
  std::stable_sort(p->rule_at_bit_.begin(), p->rule_at_bit_.end(),
                   [&](uint32_t a, uint32_t b) {
                     return rules[a].effect > rules[b].effect;
                   });
  std::vector<uint32_t> bit_of_rule(n);
  for (size_t bit = 0; bit < n; ++bit) bit_of_rule[p->rule_at_bit_[bit]] = bit;

  p->all_rules_.assign(words, 0);
  for (size_t bit = 0; bit < n; ++bit) SetBit(p->all_rules_.data(), bit);

  // Intern every named value per attribute.
  for (const Rule& rule : rules) {
    for (const Condition& c : rule.when) {
      Index& index = p->index_[static_cast<int>(c.attribute)];
      index.active = true;
      for (const std::string& v : c.values)
        index.ids.try_emplace(v, index.ids.size());
    }
  }
  // field.restricted is looked up by bool, so both rows always exist.
  {
    Index& r = p->index_[static_cast<int>(Attribute::kFieldRestricted)];
    r.ids.try_emplace("false", r.ids.size());
    r.ids.try_emplace("true", r.ids.size());
  }

  const int role_attr = static_cast<int>(Attribute::kPrincipalRole);
  for (int a = 0; a < kAttributeCount; ++a) {
    Index& index = p->index_[a];
    const size_t row_count = index.ids.size() + 1;
    if (a == role_attr) {
      index.rows.assign(row_count * words, 0);
      p->role_negated_rows_.assign(row_count * words, 0);
      p->role_free_ = p->all_rules_;
      p->role_negated_rules_.assign(words, 0);
    } else {
      // Start from "every rule accepts every value", then narrow by conditions.
      index.rows.resize(row_count * words);
      for (size_t r = 0; r < row_count; ++r) {
        std::copy(p->all_rules_.begin(), p->all_rules_.end(),
                  index.rows.begin() + r * words);
      }
    }
  }

  for (size_t i = 0; i < n; ++i) {
    const size_t bit = bit_of_rule[i];
    for (const Condition& c : rules[i].when) {
      const int a = static_cast<int>(c.attribute);
      Index& index = p->index_[a];
      const size_t row_count = index.ids.size() + 1;
      if (a == role_attr) {
        ClearBit(p->role_free_.data(), bit);
        if (c.negated) SetBit(p->role_negated_rules_.data(), bit);
        uint64_t* rows =
            c.negated ? p->role_negated_rows_.data() : index.rows.data();
        for (const std::string& v : c.values)
          SetBit(rows + index.ids.at(v) * words, bit);
        continue;
      }
      if (c.negated) {
        for (const std::string& v : c.values) {
          ClearBit(index.rows.data() + index.ids.at(v) * words, bit);
        }
      } else {
        for (size_t r = 0; r < row_count; ++r)
          ClearBit(index.rows.data() + r * words, bit);
        for (const std::string& v : c.values) {
          SetBit(index.rows.data() + index.ids.at(v) * words, bit);
        }
      }
    }
  }
  return std::shared_ptr<const CompiledPolicy>(std::move(p));
}

const uint64_t* CompiledPolicy::Row(const Index& index,
                                    absl::string_view value) const {
  auto it = index.ids.find(value);
  const size_t row = it == index.ids.end() ? index.ids.size() : it->second;
  return index.rows.data() + row * words_;
}

void CompiledPolicy::RequestMask(const Request& request, uint64_t* mask) const {
  const absl::string_view values[] = {request.principal_id,
                                      request.principal_kind,
                                      request.principal_org,
                                      absl::string_view(),  // roles: below
                                      request.principal_country,
                                      request.principal_jurisdiction,
                                      request.purpose,
                                      request.action,
                                      request.subject_jurisdiction,
                                      request.destination,
                                      request.approval_justification};
  std::array<const uint64_t*, kAttributeCount> rows;
  int row_count = 0;
  for (int a = 0; a < static_cast<int>(Attribute::kFieldName); ++a) {
    if (a == static_cast<int>(Attribute::kPrincipalRole) || !index_[a].active)
      continue;
    rows[row_count++] = Row(index_[a], values[a]);
  }
  for (size_t w = 0; w < words_; ++w) {
    uint64_t m = all_rules_[w];
    for (int r = 0; r < row_count; ++r) m &= rows[r][w];
    mask[w] = m;
  }

  const Index& roles = index_[static_cast<int>(Attribute::kPrincipalRole)];
  if (!roles.active) return;
  absl::InlinedVector<size_t, 16> role_rows;
  for (const std::string& role : request.principal_roles) {
    auto it = roles.ids.find(role);
    if (it != roles.ids.end()) role_rows.push_back(it->second * words_);
  }
  for (size_t w = 0; w < words_; ++w) {
    uint64_t positive = 0, negative = 0;
    for (size_t off : role_rows) {
      positive |= roles.rows[off + w];
      negative |= role_negated_rows_[off + w];
    }
    mask[w] &= role_free_[w] | positive | (role_negated_rules_[w] & ~negative);
  }
}

int CompiledPolicy::FieldRows(const FieldRef& field,
                              std::array<const uint64_t*, 3>& rows) const {
  int count = 0;
  const Index& name = index_[static_cast<int>(Attribute::kFieldName)];
  if (name.active) rows[count++] = Row(name, field.name);
  const Index& category = index_[static_cast<int>(Attribute::kFieldCategory)];
  if (category.active) rows[count++] = Row(category, field.category);
  const Index& restricted =
      index_[static_cast<int>(Attribute::kFieldRestricted)];
  if (restricted.active) {
    // Interned at compile time: "false" is row 0 or 1, "true" the other.
    rows[count++] = Row(restricted, field.restricted ? "true" : "false");
  }
  return count;
}

void CompiledPolicy::DecideOne(const uint64_t* mask,
                               const std::array<const uint64_t*, 3>& rows,
                               int row_count, FieldDecision& d) const {
  d.effect = Effect::kDeny;
  d.deciding_rule = kDefaultDeny;
  d.matched_count = 0;
  for (size_t w = 0; w < words_; ++w) {
    uint64_t m = mask[w];
    for (int r = 0; r < row_count; ++r) m &= rows[r][w];
    while (m != 0) {
      const uint32_t rule = rule_at_bit_[w * 64 + std::countr_zero(m)];
      m &= m - 1;
      if (d.matched_count == 0) {
        d.deciding_rule = static_cast<int32_t>(rule);
        d.effect = bundle_.rules[rule].effect;
      }
      if (d.matched_count < kMaxInlineMatches)
        d.matched[d.matched_count] = rule;
      ++d.matched_count;
    }
  }
  const uint32_t stored =
      std::min<uint32_t>(d.matched_count, kMaxInlineMatches);
  std::sort(d.matched.begin(), d.matched.begin() + stored);
  std::fill(d.matched.begin() + stored, d.matched.end(), 0u);
}

void CompiledPolicy::Decide(const Request& request,
                            std::span<const FieldRef> fields,
                            std::span<FieldDecision> out) const {
  MaskBuffer mask(words_);
  RequestMask(request, mask.data());
  std::array<const uint64_t*, 3> rows;
  for (size_t f = 0; f < fields.size(); ++f) {
    const int row_count = FieldRows(fields[f], rows);
    DecideOne(mask.data(), rows, row_count, out[f]);
  }
}

CompiledPolicy::PreparedFields CompiledPolicy::Prepare(
    std::span<const FieldRef> fields) const {
  PreparedFields prepared;
  for (const FieldRef& f : fields) {
    std::array<const uint64_t*, 3> rows{};
    prepared.row_counts_.push_back(FieldRows(f, rows));
    prepared.rows_.push_back(rows);
  }
  return prepared;
}

void CompiledPolicy::Decide(const Request& request,
                            const PreparedFields& fields,
                            std::span<FieldDecision> out) const {
  MaskBuffer mask(words_);
  RequestMask(request, mask.data());
  for (size_t f = 0; f < fields.rows_.size(); ++f) {
    DecideOne(mask.data(), fields.rows_[f], fields.row_counts_[f], out[f]);
  }
}

std::vector<int> CompiledPolicy::MatchedRules(const Request& request,
                                              const FieldRef& field) const {
  std::vector<uint64_t> mask(words_);
  RequestMask(request, mask.data());
  std::array<const uint64_t*, 3> rows;
  const int row_count = FieldRows(field, rows);
  std::vector<int> out;
  for (size_t w = 0; w < words_; ++w) {
    uint64_t m = mask[w];
    for (int r = 0; r < row_count; ++r) m &= rows[r][w];
    while (m != 0) {
      out.push_back(
          static_cast<int>(rule_at_bit_[w * 64 + std::countr_zero(m)]));
      m &= m - 1;
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace clover::policy
