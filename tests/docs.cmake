# Docs that run (issue 21): every ```sh / ```console block of README.md, docs/*.md and
# examples/README.md is executed against a scratch deployment (docs/docs-tests.md).
add_test(NAME docs_commands
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/docs_commands_test.py
          --clover $<TARGET_FILE:clover> --source-dir ${PROJECT_SOURCE_DIR}
          --build-dir ${PROJECT_BINARY_DIR} --jobs 2
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(docs_commands PROPERTIES LABELS "e2e;docs" TIMEOUT 240)

# The runner can fail: failing blocks, wrong output, untagged commands, skips without reason.
add_test(NAME docs_commands_selftest
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/docs_commands_test.py --self-test
          --clover $<TARGET_FILE:clover> --source-dir ${PROJECT_SOURCE_DIR}
          --build-dir ${PROJECT_BINARY_DIR}
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(docs_commands_selftest PROPERTIES LABELS "docs" TIMEOUT 120)
