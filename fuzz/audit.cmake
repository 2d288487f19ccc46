# Parsers of the auditor: the tlog-witness add-checkpoint body, log entries (with tlog-proof
# texts), approval transitions as its ledger reads them, and webhook signature headers as
# receivers verify them; and the approval request bodies a node parses (approvals/).
clover_fuzzer(fuzz_audit_approval_request SRCS ${CMAKE_CURRENT_SOURCE_DIR}/audit_approval_request_fuzzer.cc
  DEPS clover_approvals)
# Approval attestations (approvals/attestation.h): the signed-note text a node
# and the auditor's ledger parse. Its sources are listed so that it needs only
# core and crypto (not the log's storage and server).
clover_fuzzer(fuzz_approval_attestation
  SRCS ${CMAKE_CURRENT_SOURCE_DIR}/approval_attestation_fuzzer.cc
       ${PROJECT_SOURCE_DIR}/src/approvals/attestation.cc ${PROJECT_SOURCE_DIR}/src/log/note.cc
  DEPS clover_crypto clover_core)
if(TARGET clover_audit)
  clover_fuzzer(fuzz_audit_add_checkpoint SRCS ${CMAKE_CURRENT_SOURCE_DIR}/audit_add_checkpoint_fuzzer.cc
    DEPS clover_audit)
  clover_fuzzer(fuzz_audit_log_entry SRCS ${CMAKE_CURRENT_SOURCE_DIR}/audit_log_entry_fuzzer.cc
    DEPS clover_audit)
  clover_fuzzer(fuzz_audit_approval_ledger
    SRCS ${CMAKE_CURRENT_SOURCE_DIR}/audit_approval_ledger_fuzzer.cc DEPS clover_audit)
  clover_fuzzer(fuzz_audit_webhook_signature
    SRCS ${CMAKE_CURRENT_SOURCE_DIR}/audit_webhook_signature_fuzzer.cc DEPS clover_audit)
endif()
