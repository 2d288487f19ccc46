# fuzz_policy_bundle: the policy bundle parser (yaml-cpp, then the bundle grammar), the compiler vs the reference evaluator, and a bounded
# analysis of whatever parses. Seeds: fuzz/corpus/policy_bundle/.
clover_fuzzer(fuzz_policy_bundle SRCS ${CMAKE_CURRENT_LIST_DIR}/policy_bundle_fuzz.cc
              DEPS clover_policy)
