# Crash test: a writer process under load is SIGKILLed at random moments; every write it
# acknowledged must be readable after restart.
add_executable(vault_crash_test ${CMAKE_CURRENT_LIST_DIR}/vault_crash_test.cc)
target_link_libraries(vault_crash_test PRIVATE clover_options clover_vault clover_crypto)
add_test(NAME vault_crash COMMAND vault_crash_test --rounds 6)
set_tests_properties(vault_crash PROPERTIES LABELS crash TIMEOUT 120)
