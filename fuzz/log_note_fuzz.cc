// Fuzzes the signed-note, checkpoint and key parsers. Properties: no crash;
// whatever parses re-serializes to exactly the input (the grammars are
// canonical); a note never opens without a valid signature from the configured
// key.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "log/checkpoint.h"
#include "log/note.h"
#include "log/tile.h"

namespace {

using namespace clover::log;

const NoteVerifier* TheVerifier() {
  static const auto* v = [] {
    auto key =
        clover::crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'f'));
    return NewNoteVerifier("fuzz.example/log", kNoteTypeEd25519,
                           key->public_key())
        ->release();
  }();
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  if (auto parsed = ParseNote(input); parsed.ok()) {
    std::string again = parsed->text + "\n";
    for (const auto& s : parsed->signatures) again += s.Line();
    if (again != input) std::abort();
    const NoteVerifier* vs[] = {TheVerifier()};
    if (auto opened = OpenNote(input, vs); opened.ok()) {
      if (opened->verified.empty() || opened->text != parsed->text)
        std::abort();
    }
  }
  if (auto cp = ParseCheckpoint(input); cp.ok()) {
    if (FormatCheckpoint(*cp) != input) std::abort();
  }
  (void)ParseVerifierKey(input);
  (void)ParseSignerKey(input);
  if (auto entries = ParseEntryBundle(input); entries.ok()) {
    std::string again;
    for (auto e : *entries) {
      if (!AppendToBundle(again, e).ok()) std::abort();
    }
    if (again != input) std::abort();
  }
  return 0;
}
