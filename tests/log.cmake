# Crash test of the transparency log: a helper appends under load and is SIGKILLed at random
# moments; every acknowledged entry must survive and checkpoints must stay consistent.
add_executable(log_crash_helper ${CMAKE_CURRENT_LIST_DIR}/log_crash_helper.cc)
target_link_libraries(log_crash_helper PRIVATE clover_options clover_log)
clover_test(log_crash_test SRCS ${CMAKE_CURRENT_LIST_DIR}/log_crash_test.cc
  DEPS clover_log LABELS crash TIMEOUT 180)
add_dependencies(log_crash_test log_crash_helper)
target_compile_definitions(log_crash_test PRIVATE
  LOG_CRASH_HELPER="$<TARGET_FILE:log_crash_helper>")
