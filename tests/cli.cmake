# The clover CLI's exit codes and error lines (bash script driving the real binary).
add_test(NAME cli_exit_codes
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_exit_codes_test.sh $<TARGET_FILE:clover>
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(cli_exit_codes PROPERTIES LABELS "e2e" TIMEOUT 60)

# KEK rotation end to end: a real node, `clover keys rewrap`, the retired key deleted.
add_test(NAME kek_rotation
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/kek_rotation_test.sh $<TARGET_FILE:clover>
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(kek_rotation PROPERTIES LABELS "e2e" TIMEOUT 120)

# Pseudonym key rotation end to end: a real node, `clover keys rotate-pseudonym`,
# the old token refused after its window (410 token_expired).
add_test(NAME pseudonym_rotation_cli
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/pseudonym_rotation_cli_test.sh $<TARGET_FILE:clover>
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(pseudonym_rotation_cli PROPERTIES LABELS "e2e" TIMEOUT 120)

# `make demo`'s run to its summary (JSON), checked.
add_test(NAME demo
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/demo_test.sh $<TARGET_FILE:clover>
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(demo PROPERTIES LABELS "e2e" TIMEOUT 300 RUN_SERIAL TRUE)

# `clover demo --data-dir` refuses directories Clover did not create, /, $HOME (exit 2, one line).
add_test(NAME cli_owned_dirs
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_owned_dirs_test.sh $<TARGET_FILE:clover>
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(cli_owned_dirs PROPERTIES LABELS "e2e" TIMEOUT 300)

# promtool (Debian's prometheus) accepts the /metrics page of every node and of
# the auditor of a serving demo.
add_test(NAME metrics_promtool
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/metrics_promtool_test.sh $<TARGET_FILE:clover>
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(metrics_promtool PROPERTIES LABELS "e2e" TIMEOUT 300)
