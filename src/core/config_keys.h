// The keys a configuration loader accepts, kept where the loader checks them
// so that they can be listed: docs/configuration.md must document exactly
// these (tests/config_reference_test.cc compares both ways).
//
// A loader keeps one KeySet per YAML map it reads, refuses any other key with
// "file:line:col: field 'a.b': unknown key", and lists all its sets in one
// function (e.g. DeploymentConfigKeys()).
#ifndef CLOVER_CORE_CONFIG_KEYS_H_
#define CLOVER_CORE_CONFIG_KEYS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace clover {

// The keys one map accepts. `path` names the map by a dotted pattern: "" is
// the file's root, "[]" any item of a list, "*" any entry of a map whose keys
// are ids (e.g. "regions.*.dcs.*", "principals[].credentials").
struct KeySet {
  absl::string_view path;
  absl::Span<const absl::string_view> keys;

  bool Allows(absl::string_view key) const {
    for (absl::string_view k : keys) {
      if (k == key) return true;
    }
    return false;
  }
};

// "path.key" (or "key" at the root) for every key of every set, in order.
inline std::vector<std::string> ExpandKeySets(
    absl::Span<const KeySet* const> sets) {
  std::vector<std::string> out;
  for (const KeySet* s : sets) {
    for (absl::string_view k : s->keys) {
      std::string key =
          s->path.empty() ? std::string() : std::string(s->path) + ".";
      key.append(k.data(), k.size());
      out.push_back(std::move(key));
    }
  }
  return out;
}

}  // namespace clover

#endif  // CLOVER_CORE_CONFIG_KEYS_H_
