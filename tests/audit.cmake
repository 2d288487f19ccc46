# Auditor process tests: a real auditor process (the `clover audit` command code, linked into a
# small binary so the test does not depend on every other command group) following a log
# over HTTP and delivering incidents to a webhook, killed with SIGKILL mid-delivery.
if(TARGET clover_audit AND TARGET clover_server)
  add_executable(audit_test_daemon
    ${CMAKE_CURRENT_SOURCE_DIR}/audit_daemon_main.cc
    ${PROJECT_SOURCE_DIR}/src/cli/audit_commands.cc
    ${PROJECT_SOURCE_DIR}/src/cli/command.cc)
  target_link_libraries(audit_test_daemon PRIVATE clover_options clover_audit CLI11::CLI11)
  clover_test(audit_crash_test SRCS ${CMAKE_CURRENT_SOURCE_DIR}/audit_crash_test.cc
    DEPS clover_audit clover_server LABELS crash TIMEOUT 180)
  add_dependencies(audit_crash_test audit_test_daemon)
  target_compile_definitions(audit_crash_test PRIVATE
    AUDIT_DAEMON="$<TARGET_FILE:audit_test_daemon>")
endif()
