#include "migrate/mapping.h"

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/config_keys.h"
#include "core/yaml_error.h"
#include "yaml-cpp/yaml.h"

namespace clover::migrate {
namespace {

constexpr absl::string_view kRootKeys[] = {
    "migration",      "table",   "key",        "subject",
    "subject_prefix", "country", "batch_size", "fields"};
constexpr absl::string_view kFieldKeys[] = {"column", "format",
                                            "list_separator"};
constexpr KeySet kRoot{"", kRootKeys};
constexpr KeySet kField{"fields.*", kFieldKeys};

bool Identifier(absl::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!(absl::ascii_isalpha(s[0]) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return absl::ascii_isalnum(c) || c == '_'; });
}

class Parser {
 public:
  Parser(absl::string_view file, const Schema& schema)
      : file_(file), schema_(schema) {}

  absl::StatusOr<LegacyMapping> Parse(absl::string_view yaml) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(yaml));
    } catch (const YAML::Exception& e) {
      return YamlSyntaxError(file_, e, "invalid YAML: ");
    }
    if (!root.IsMap()) {
      return YamlError(file_, root, "", "the mapping must be a YAML map");
    }
    if (absl::Status s = Keys(root, kRoot, ""); !s.ok()) return s;
    LegacyMapping m;
    if (auto v = OptionalScalar(root, "migration"); !v.ok()) {
      return v.status();
    } else if (v->has_value()) {
      m.migration = **v;
      if (m.migration.size() > 128 ||
          !std::all_of(m.migration.begin(), m.migration.end(), [](char c) {
            return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
          })) {
        return YamlError(file_, root["migration"], "migration",
                         "1 to 128 of [A-Za-z0-9._-]");
      }
    }
    if (auto v = OptionalScalar(root, "table"); !v.ok()) {
      return v.status();
    } else if (v->has_value()) {
      m.table = **v;
      std::vector<absl::string_view> parts = absl::StrSplit(m.table, '.');
      if (parts.size() > 2 ||
          !std::all_of(parts.begin(), parts.end(), Identifier)) {
        return YamlError(file_, root["table"], "table",
                         "a table name ([A-Za-z_][A-Za-z0-9_]*, optionally "
                         "schema-qualified)");
      }
    }
    auto key = Column(root, "key");
    if (!key.ok()) return key.status();
    auto country = Column(root, "country");
    if (!country.ok()) return country.status();
    m.columns = {*key, *country};
    if (root["subject"]) {
      auto subject = Column(root, "subject");
      if (!subject.ok()) return subject.status();
      m.subject_column = Intern(m, *subject);
    }
    if (auto v = OptionalScalar(root, "subject_prefix"); !v.ok()) {
      return v.status();
    } else if (v->has_value()) {
      m.subject_prefix = **v;
    }
    if (auto v = OptionalScalar(root, "batch_size"); !v.ok()) {
      return v.status();
    } else if (v->has_value()) {
      size_t n = 0;
      if (!absl::SimpleAtoi(**v, &n) || n < 1 || n > kMaxBatchSize) {
        return YamlError(file_, root["batch_size"], "batch_size",
                         absl::StrCat("an integer from 1 to ", kMaxBatchSize));
      }
      m.batch_size = n;
    }
    YAML::Node fields = root["fields"];
    if (!fields || !fields.IsMap() || fields.size() == 0) {
      return YamlError(file_, fields ? fields : root, "fields",
                       "required: a map from schema field to source column");
    }
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      // Copies: the iterator's pair is a temporary.
      const YAML::Node key = it->first;
      const YAML::Node spec = it->second;
      const std::string name = key.Scalar();
      const std::string path = absl::StrCat("fields.", name);
      FieldMapping f;
      f.field = schema_.Find(name);
      if (f.field == nullptr) {
        return YamlError(file_, key, path, "not a field of the schema");
      }
      for (const FieldMapping& g : m.fields) {
        if (g.field == f.field) {
          return YamlError(file_, key, path, "mapped twice");
        }
      }
      if (spec.IsScalar()) {  // `email: email_addr` names the column only
        if (!Identifier(spec.Scalar())) {
          return YamlError(file_, spec, path,
                           "a column name ([A-Za-z_][A-Za-z0-9_]*)");
        }
        f.column = Intern(m, spec.Scalar());
      } else if (spec.IsMap()) {
        if (absl::Status s = Keys(spec, kField, path); !s.ok()) return s;
        auto column = Column(spec, "column", path);
        if (!column.ok()) return column.status();
        f.column = Intern(m, *column);
        if (auto v = OptionalScalar(spec, "format", path); !v.ok()) {
          return v.status();
        } else if (v->has_value() && **v != ToString(f.field->format)) {
          return YamlError(
              file_, spec["format"], path + ".format",
              absl::StrCat("'", **v, "' differs from the schema's format '",
                           ToString(f.field->format), "'"));
        }
        if (auto v = OptionalScalar(spec, "list_separator", path); !v.ok()) {
          return v.status();
        } else if (v->has_value()) {
          if ((*v)->empty() || f.field->format != FieldFormat::kTextList) {
            return YamlError(
                file_, spec["list_separator"], path + ".list_separator",
                "a non-empty separator, for text_list fields only");
          }
          f.list_separator = **v;
        }
      } else {
        return YamlError(file_, spec, path,
                         "a column name or a map with 'column'");
      }
      m.fields.push_back(std::move(f));
    }
    return m;
  }

 private:
  static size_t Intern(LegacyMapping& m, const std::string& column) {
    for (size_t i = 0; i < m.columns.size(); ++i) {
      if (m.columns[i] == column) return i;
    }
    m.columns.push_back(column);
    return m.columns.size() - 1;
  }

  absl::Status Keys(const YAML::Node& map, const KeySet& set,
                    absl::string_view at) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;
      const std::string k = key.Scalar();
      if (!set.Allows(k)) {
        return YamlError(file_, key, at.empty() ? k : absl::StrCat(at, ".", k),
                         "unknown key");
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<std::string>> OptionalScalar(
      const YAML::Node& map, const char* key, absl::string_view at = {}) {
    YAML::Node v = map[key];
    if (!v) return std::optional<std::string>();
    if (!v.IsScalar() || v.Scalar().empty()) {
      return YamlError(file_, v, at.empty() ? key : absl::StrCat(at, ".", key),
                       "a non-empty string");
    }
    return std::optional<std::string>(v.Scalar());
  }

  absl::StatusOr<std::string> Column(const YAML::Node& map, const char* key,
                                     absl::string_view at = {}) {
    const std::string path = at.empty() ? key : absl::StrCat(at, ".", key);
    YAML::Node v = map[key];
    if (!v) return YamlError(file_, map, path, "required: a column name");
    if (!v.IsScalar() || !Identifier(v.Scalar())) {
      return YamlError(file_, v, path,
                       "a column name ([A-Za-z_][A-Za-z0-9_]*)");
    }
    return v.Scalar();
  }

  std::string file_;
  const Schema& schema_;
};

}  // namespace

absl::StatusOr<LegacyMapping> ParseMapping(absl::string_view yaml,
                                           absl::string_view file,
                                           const Schema& schema) {
  return Parser(file, schema).Parse(yaml);
}

std::vector<std::string> MappingConfigKeys() {
  static constexpr const KeySet* kSets[] = {&kRoot, &kField};
  return ExpandKeySets(kSets);
}

}  // namespace clover::migrate
