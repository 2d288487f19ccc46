// Fuzzes how a log reads a witness's add-checkpoint answer
// (log/witness_client.h: ReadWitnessAnswer). Properties: no crash; an answer
// is taken as cosigned only with a cosignature that verifies with the
// witness's key (the fuzzer cannot make one, so never); a 409 size is what the
// body says; what is logged is printable and bounded.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "log/checkpoint.h"
#include "log/note.h"
#include "log/witness_client.h"

namespace {

using namespace clover::log;

const NoteVerifier* Witness() {
  static const auto* v = [] {
    auto key =
        clover::crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'w'));
    return NewNoteVerifier("witness.example", kNoteTypeCosignature,
                           key->public_key())
        ->release();
  }();
  return v;
}

const std::string& Note() {
  static const std::string* n = [] {
    auto key =
        clover::crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'l'));
    auto signer =
        NewNoteSigner("log.example", kNoteTypeEd25519, *std::move(key));
    Checkpoint cp{"log.example", 7, {}, {}};
    const NoteSigner* ss[] = {signer->get()};
    return new std::string(*SignNote(FormatCheckpoint(cp), ss));
  }();
  return *n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static const int kStatuses[] = {200, 409, 422, 403, 404, 400, 500, 0};
  PostResponse r;
  r.status = kStatuses[data[0] % 8];
  r.content_type = (data[1] & 1) ? "text/x.tlog.size" : "text/plain";
  r.body.assign(reinterpret_cast<const char*>(data + 2), size - 2);
  WitnessAnswer a = ReadWitnessAnswer(r, Note(), *Witness());
  if (a.kind == WitnessAnswer::Kind::kCosigned) std::abort();
  if (a.kind == WitnessAnswer::Kind::kSize &&
      (r.status != 409 || r.content_type != "text/x.tlog.size"))
    std::abort();
  if (a.detail.size() > 200) std::abort();
  for (char c : a.detail)
    if (c < 0x20 || c >= 0x7f) std::abort();
  return 0;
}
