#include "vault/pseudonymizer.h"

#include "absl/strings/str_cat.h"
#include "vault/field_format.h"
#include "vault/generalize.h"

namespace clover::vault {
namespace {

// Encrypting a value whose leading digit must stay non-zero walks the FF1
// permutation until it lands in that set again (cycle walking); the set holds
// 90% of the domain, so this bound is never reached in practice.
constexpr int kMaxCycleWalk = 1000;
constexpr size_t kFf1MinDigits = 6;

struct DigitsShape {
  absl::string_view prefix;  // "+" for E.164, "-" for negative integers
  absl::string_view body;
  bool nonzero_first = false;
};

absl::StatusOr<DigitsShape> ShapeOf(const FieldSpec& field,
                                    absl::string_view raw) {
  DigitsShape shape;
  switch (field.format) {
    case FieldFormat::kDigits:
      shape.body = raw;
      break;
    case FieldFormat::kE164:
      if (raw.empty() || raw[0] != '+') {
        return absl::InvalidArgumentError(absl::StrCat(
            "field '", field.name, "': not an E.164 phone number"));
      }
      shape.prefix = raw.substr(0, 1);
      shape.body = raw.substr(1);
      shape.nonzero_first = true;
      break;
    case FieldFormat::kInteger:
      if (!raw.empty() && raw[0] == '-') {
        shape.prefix = raw.substr(0, 1);
        shape.body = raw.substr(1);
      } else {
        shape.body = raw;
      }
      shape.nonzero_first = shape.body.size() > 1;
      break;
    default:
      return absl::FailedPreconditionError(
          absl::StrCat("field '", field.name,
                       "': method ff1 needs format digits, e164 or integer"));
  }
  if (shape.body.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field '", field.name, "': no digits"));
  }
  for (char c : shape.body) {
    if (c < '0' || c > '9') {
      return absl::InvalidArgumentError(
          absl::StrCat("field '", field.name, "': not a string of digits"));
    }
  }
  return shape;
}

}  // namespace

Pseudonymizer::Pseudonymizer(const Deployment& deployment) {
  for (const Jurisdiction& j : deployment.jurisdictions) {
    for (const std::string& c : j.countries)
      country_to_jurisdiction_.emplace(c, j.id);
  }
}

absl::StatusOr<std::string> Pseudonymizer::Transform(
    const FieldSpec& field, absl::string_view raw, TransformMode mode,
    const TokenKeys& keys, const SubjectTokenKeys* subject) const {
  switch (mode) {
    case TransformMode::kRaw:
      return std::string(raw);
    case TransformMode::kPseudonymize:
      return Pseudonymize(field, raw, keys, subject);
    case TransformMode::kGeneralize:
      return Generalize(field, raw, keys, subject);
    case TransformMode::kRedact:
      return std::string(kRedacted);
  }
  return absl::InvalidArgumentError("unknown transform mode");
}

absl::StatusOr<FieldValue> Pseudonymizer::TransformField(
    const FieldSpec& field, const FieldValue& value, TransformMode mode,
    const TokenKeys& keys, const SubjectTokenKeys* subject) const {
  FieldValue out;
  out.name = value.name;
  if (!value.is_list) {
    absl::StatusOr<std::string> v =
        Transform(field, value.value, mode, keys, subject);
    if (!v.ok()) return v.status();
    out.value = std::move(*v);
    return out;
  }
  if (mode == TransformMode::kRedact) {
    out.value = std::string(kRedacted);
    return out;
  }
  out.is_list = true;
  out.items.reserve(value.items.size());
  for (const std::string& item : value.items) {
    absl::StatusOr<std::string> v = Transform(field, item, mode, keys, subject);
    if (!v.ok()) return v.status();
    out.items.push_back(std::move(*v));
  }
  return out;
}

absl::StatusOr<std::string> Pseudonymizer::Pseudonymize(
    const FieldSpec& field, absl::string_view raw, const TokenKeys& keys,
    const SubjectTokenKeys* subject) const {
  switch (field.method) {
    case PseudonymMethod::kHmac:
      return keys.HmacToken(raw);
    case PseudonymMethod::kSiv:
      if (subject == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat(
            "field '", field.name, "': siv tokens need the subject's keys"));
      }
      return subject->SivToken(field.name, raw);
    case PseudonymMethod::kFf1:
      return Ff1(field, raw, keys, /*encrypt=*/true);
    case PseudonymMethod::kGeneralize:
      return Generalize(field, raw, keys, subject);
    case PseudonymMethod::kRedact:
      return std::string(kRedacted);
  }
  return absl::InvalidArgumentError("unknown pseudonymisation method");
}

absl::StatusOr<std::string> Pseudonymizer::Generalize(
    const FieldSpec& field, absl::string_view raw, const TokenKeys& keys,
    const SubjectTokenKeys* subject) const {
  switch (field.format) {
    case FieldFormat::kIp:
      return GeneralizeIp(raw);
    case FieldFormat::kDate:
      return GeneralizeDate(raw);
    case FieldFormat::kInteger:
      return GeneralizeInteger(raw);
    case FieldFormat::kEmail:
      return GeneralizeEmail(raw);
    case FieldFormat::kCountry: {
      auto it = country_to_jurisdiction_.find(std::string(raw));
      return it == country_to_jurisdiction_.end() ? std::string("other")
                                                  : it->second;
    }
    default:
      break;
  }
  // Nothing coarser exists for free text, digits or phone numbers: use the
  // field's token (which reveals less than a generalisation would), or redact.
  switch (field.method) {
    case PseudonymMethod::kHmac:
    case PseudonymMethod::kSiv:
    case PseudonymMethod::kFf1:
      return Pseudonymize(field, raw, keys, subject);
    default:
      return std::string(kRedacted);
  }
}

absl::StatusOr<std::string> Pseudonymizer::Ff1(const FieldSpec& field,
                                               absl::string_view raw,
                                               const TokenKeys& keys,
                                               bool encrypt) const {
  // The permutation (with cycle walking) is only defined on well-formed values:
  // a phone number or integer with a leading zero would not map back.
  if (field.format == FieldFormat::kDigits ||
      field.format == FieldFormat::kE164 ||
      field.format == FieldFormat::kInteger) {
    absl::Status valid = ValidateFieldValue(field.name, field.format, raw);
    if (!valid.ok()) return valid;
  }
  absl::StatusOr<DigitsShape> shape = ShapeOf(field, raw);
  if (!shape.ok()) return shape.status();
  const size_t n = shape->body.size();
  if (n < kFf1MinDigits) {
    if (!encrypt) {
      return absl::FailedPreconditionError(
          absl::StrCat("field '", field.name, "': values under ", kFf1MinDigits,
                       " digits are not reversible"));
    }
    // FF1 is not secure on fewer than six decimal digits (SP 800-38G Rev. 1);
    // such values get keyed, one-way digits of the same shape instead.
    absl::StatusOr<crypto::HmacSha256Tag> tag =
        keys.Prf("ff1-short/" + field.name, raw);
    if (!tag.ok()) return tag.status();
    std::string out(shape->prefix);
    for (size_t i = 0; i < n; ++i)
      out.push_back(static_cast<char>('0' + (*tag)[i] % 10));
    if (shape->nonzero_first && out[shape->prefix.size()] == '0') {
      out[shape->prefix.size()] = static_cast<char>('1' + (*tag)[31] % 9);
    }
    return out;
  }
  std::string body(shape->body);
  for (int i = 0; i < kMaxCycleWalk; ++i) {
    absl::StatusOr<std::string> next =
        keys.Ff1Digits(body, field.name, encrypt);
    if (!next.ok()) return next.status();
    body = std::move(*next);
    if (!shape->nonzero_first || body[0] != '0')
      return std::string(shape->prefix) + body;
  }
  return absl::InternalError("FF1 cycle walk did not terminate");
}

absl::StatusOr<std::string> Pseudonymizer::ReverseFf1(
    const FieldSpec& field, absl::string_view token,
    const TokenKeys& keys) const {
  if (field.method != PseudonymMethod::kFf1) {
    return absl::FailedPreconditionError(
        absl::StrCat("field '", field.name, "': not an ff1 field"));
  }
  return Ff1(field, token, keys, /*encrypt=*/false);
}

}  // namespace clover::vault
