# docs/configuration.md against the keys every configuration loader accepts
# (both ways), the environment variables the code reads and `clover config
# check` on every kind of example file.
clover_test(config_reference_test
  SRCS ${CMAKE_CURRENT_SOURCE_DIR}/config_reference_test.cc
  DEPS clover_config clover_audit clover_policy clover_release clover_migrate
  LABELS unit)
target_compile_definitions(config_reference_test PRIVATE
  CLOVER_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

add_test(NAME config_check_examples
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/config_check_examples_test.sh $<TARGET_FILE:clover>
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(config_check_examples PROPERTIES LABELS "e2e" TIMEOUT 120)
