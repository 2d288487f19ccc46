# bench_audit: how many log entries per second the auditor verifies and replays, end to end
# (fetch from an in-memory log, bundle parsing, RFC 6962 re-hashing, root check, witness
# cosignature, decision replay, flows, detectors, durable commit), against raw SHA-256 of the
# same bytes measured in the same run.
if(TARGET clover_audit)
  add_executable(bench_audit ${CMAKE_CURRENT_SOURCE_DIR}/audit_bench.cc)
  target_link_libraries(bench_audit PRIVATE clover_options clover_audit)
endif()
