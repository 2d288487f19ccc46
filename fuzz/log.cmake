# Fuzzers for the transparency log's parsers and proof verifier.
clover_fuzzer(fuzz_note SRCS ${CMAKE_CURRENT_LIST_DIR}/log_note_fuzz.cc DEPS clover_log)
clover_fuzzer(fuzz_tile_path SRCS ${CMAKE_CURRENT_LIST_DIR}/log_tile_path_fuzz.cc DEPS clover_log)
clover_fuzzer(fuzz_proof SRCS ${CMAKE_CURRENT_LIST_DIR}/log_proof_fuzz.cc DEPS clover_log)
# How the log reads a witness's add-checkpoint answer (cosignatures, 409 sizes).
clover_fuzzer(fuzz_witness_answer SRCS ${CMAKE_CURRENT_LIST_DIR}/log_witness_answer_fuzz.cc DEPS clover_log)
