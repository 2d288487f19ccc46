# bench_policy: the policy engine's hot path (a 10-field request against a 1,000-rule bundle,
# compiled vs the reference evaluator), bundle load + compile time for 10,000 rules, and the
# invariant proof time for the example bundle.
add_executable(bench_policy ${CMAKE_CURRENT_LIST_DIR}/policy_bench.cc)
target_link_libraries(bench_policy PRIVATE clover_options clover_policy)
