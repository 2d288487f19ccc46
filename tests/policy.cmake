# `clover policy check|test|explain|sign` against the real binary (bash script).
add_test(NAME policy_cli
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/policy_cli_test.sh $<TARGET_FILE:clover>
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(policy_cli PROPERTIES LABELS "e2e" TIMEOUT 60)
