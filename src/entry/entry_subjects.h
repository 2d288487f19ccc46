// The fast reader of log entries: the subjects an entry names, read as a
// stream of SAX events without building a document. The access index
// (gateway/access_index.h) tails every entry of the log with it.
//
// Why a second reader beside ParseLogEntry (log_entry.h): the access index
// needs one member of every entry of every type (a decision's "subject", an
// approval's "subjects" array), and building the DOM of ~1.4 KB per entry to
// read it would slow the index down; the auditor needs every member of a
// decision checked and typed, which a DOM does at a cost it can afford
// (bench/audit-keepup.sh). entry_test.cc checks that both readers agree on the
// subject of every decision entry the writer produces.
#ifndef CLOVER_ENTRY_ENTRY_SUBJECTS_H_
#define CLOVER_ENTRY_ENTRY_SUBJECTS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace clover::entry {

// Sets `out` to the top-level "subject" string and the strings of a
// top-level "subjects" array of `entry` (any type), in order. False (and `out`
// empty) if `entry` is not well-formed JSON; an entry naming none gives true
// and an empty `out`. Nesting depth is not trusted (iterative parse).
// Thread-safe; reusing `out` reuses its capacity.
[[nodiscard]] bool SubjectsOf(absl::string_view entry,
                              std::vector<std::string>& out);

}  // namespace clover::entry

#endif  // CLOVER_ENTRY_ENTRY_SUBJECTS_H_
