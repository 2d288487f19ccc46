# Parsers of the auditor: the tlog-witness add-checkpoint body, approval request bodies, and
# log entries (with tlog-proof texts).
if(TARGET clover_audit)
  clover_fuzzer(fuzz_audit_add_checkpoint SRCS ${CMAKE_CURRENT_SOURCE_DIR}/audit_add_checkpoint_fuzzer.cc
    DEPS clover_audit)
  clover_fuzzer(fuzz_audit_approval_request SRCS ${CMAKE_CURRENT_SOURCE_DIR}/audit_approval_request_fuzzer.cc
    DEPS clover_audit)
  clover_fuzzer(fuzz_audit_log_entry SRCS ${CMAKE_CURRENT_SOURCE_DIR}/audit_log_entry_fuzzer.cc
    DEPS clover_audit)
endif()
