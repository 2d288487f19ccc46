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
  p->effect_at_bit_.resize(n);
  for (size_t bit = 0; bit < n; ++bit)
    p->effect_at_bit_[bit] = rules[p->rule_at_bit_[bit]].effect;
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
    p->restricted_row_ = {r.ids.at("false"), r.ids.at("true")};
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
    // Both rows are interned at compile time: no lookup by string.
    rows[count++] =
        restricted.rows.data() + restricted_row_[field.restricted] * words_;
  }
  return count;
}

void CompiledPolicy::CollectMatches(const uint64_t* m, FieldDecision& d) const {
  d.effect = Effect::kDeny;
  d.deciding_rule = kDefaultDeny;
  uint32_t count = 0;
  // Bits run by effect, then file order: the matches come as a few ascending
  // runs, one per effect, and need sorting only when there is more than one.
  bool ascending = true;
  uint32_t last = 0;
  for (size_t w = 0; w < words_; ++w) {
    uint64_t bits = m[w];
    while (bits != 0) {
      const size_t bit = w * 64 + std::countr_zero(bits);
      bits &= bits - 1;
      const uint32_t rule = rule_at_bit_[bit];
      if (count == 0) {
        d.deciding_rule = static_cast<int32_t>(rule);
        d.effect = effect_at_bit_[bit];
      } else if (rule < last) {
        ascending = false;
      }
      last = rule;
      if (count < kMaxInlineMatches) d.matched[count] = rule;
      ++count;
    }
  }
  d.matched_count = count;
  const uint32_t stored = std::min<uint32_t>(count, kMaxInlineMatches);
  if (!ascending) {
    // Insertion sort: at most kMaxInlineMatches small integers.
    for (uint32_t i = 1; i < stored; ++i) {
      const uint32_t v = d.matched[i];
      uint32_t j = i;
      for (; j > 0 && d.matched[j - 1] > v; --j)
        d.matched[j] = d.matched[j - 1];
      d.matched[j] = v;
    }
  }
  std::fill(d.matched.begin() + stored, d.matched.end(), 0u);
}

void CompiledPolicy::AndRows(const uint64_t* mask,
                             const std::array<const uint64_t*, 3>& rows,
                             int row_count, uint64_t* out) const {
  // One loop per row count, each simple enough for the compiler to vectorise.
  const size_t n = words_;
  switch (row_count) {
    case 0:
      std::copy(mask, mask + n, out);
      return;
    case 1:
      for (size_t w = 0; w < n; ++w) out[w] = mask[w] & rows[0][w];
      return;
    case 2:
      for (size_t w = 0; w < n; ++w) out[w] = mask[w] & rows[0][w] & rows[1][w];
      return;
    default:
      for (size_t w = 0; w < n; ++w)
        out[w] = mask[w] & rows[0][w] & rows[1][w] & rows[2][w];
      return;
  }
}

void CompiledPolicy::Decide(const Request& request,
                            std::span<const FieldRef> fields,
                            std::span<FieldDecision> out) const {
  MaskBuffer mask(words_);
  MaskBuffer matches(words_);
  RequestMask(request, mask.data());
  // Fields with the same rows (say, two contact fields when no rule names a
  // field) get the same decision: remember the last few distinct ones.
  struct Seen {
    std::array<const uint64_t*, 3> rows;
    size_t field;
  };
  std::array<Seen, 16> seen;
  size_t seen_count = 0;
  std::array<const uint64_t*, 3> rows;
  for (size_t f = 0; f < fields.size(); ++f) {
    rows = {nullptr, nullptr, nullptr};
    const int row_count = FieldRows(fields[f], rows);
    bool copied = false;
    for (size_t k = 0; k < seen_count; ++k) {
      if (seen[k].rows == rows) {
        out[f] = out[seen[k].field];
        copied = true;
        break;
      }
    }
    if (copied) continue;
    AndRows(mask.data(), rows, row_count, matches.data());
    CollectMatches(matches.data(), out[f]);
    if (seen_count < seen.size()) seen[seen_count++] = {rows, f};
  }
}

CompiledPolicy::PreparedFields CompiledPolicy::Prepare(
    std::span<const FieldRef> fields) const {
  PreparedFields prepared;
  prepared.words_ = words_;
  prepared.rows_.resize(fields.size() * words_);
  std::array<const uint64_t*, 3> rows{};
  prepared.same_as_.resize(fields.size());
  for (size_t f = 0; f < fields.size(); ++f) {
    uint64_t* row = prepared.rows_.data() + f * words_;
    AndRows(all_rules_.data(), rows, FieldRows(fields[f], rows), row);
    prepared.same_as_[f] = f;
    for (size_t g = 0; g < f; ++g) {
      if (std::equal(row, row + words_, prepared.rows_.data() + g * words_)) {
        prepared.same_as_[f] = g;
        break;
      }
    }
  }
  return prepared;
}

void CompiledPolicy::Decide(const Request& request,
                            const PreparedFields& fields,
                            std::span<FieldDecision> out) const {
  MaskBuffer mask(words_);
  MaskBuffer matches(words_);
  RequestMask(request, mask.data());
  std::array<const uint64_t*, 3> rows{};
  for (size_t f = 0; f < fields.size(); ++f) {
    if (fields.same_as_[f] != f) {
      out[f] = out[fields.same_as_[f]];
      continue;
    }
    rows[0] = fields.rows_.data() + f * words_;
    AndRows(mask.data(), rows, 1, matches.data());
    CollectMatches(matches.data(), out[f]);
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
