# The web console (console/, issue 22). Its TypeScript must type-check, and it
# must work in a real browser (Debian's chromium, driven by playwright-core)
# against a real `clover demo` deployment on loopback ports; screenshots of
# every page go to console-screenshots/ in the build tree.
add_test(NAME console_typecheck
  COMMAND npx --no-install tsc --noEmit -p .
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/console)
set_tests_properties(console_typecheck PROPERTIES LABELS "console" TIMEOUT 120)
add_test(NAME console_browser
  COMMAND node ${PROJECT_SOURCE_DIR}/console/test/browser/console.spec.mjs
          --clover $<TARGET_FILE:clover>
          --out ${CMAKE_BINARY_DIR}/console-screenshots
          --data-dir ${CMAKE_BINARY_DIR}/console-demo-data
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(console_browser PROPERTIES LABELS "e2e" TIMEOUT 300)
# The browser-side verification (console/src/verify.ts) against RFC 6962 trees
# and Ed25519-signed notes built independently in the test.
add_test(NAME console_verify_unit
  COMMAND node --test test/unit/
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/console)
set_tests_properties(console_verify_unit PROPERTIES LABELS "console" TIMEOUT 120)
# The approvals desk and the subject access report (console/src/page_approvals.tsx,
# page_subject.tsx; audit/approvals_desk.h) against a real `clover demo`.
add_test(NAME console_approvals_browser
  COMMAND node ${PROJECT_SOURCE_DIR}/console/test/browser/approvals.spec.mjs
          --clover $<TARGET_FILE:clover>
          --out ${CMAKE_BINARY_DIR}/console-screenshots
          --data-dir ${CMAKE_BINARY_DIR}/console-approvals-demo-data
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(console_approvals_browser PROPERTIES LABELS "e2e" TIMEOUT 300)
# The Policy page (console/src/page_policy.tsx, src/audit/policy_view.h): versions
# per node, invariant proofs, refusing and signing a bundle, the diff.
add_test(NAME console_policy_browser
  COMMAND node ${PROJECT_SOURCE_DIR}/console/test/browser/policy.spec.mjs
          --clover $<TARGET_FILE:clover>
          --out ${CMAKE_BINARY_DIR}/console-screenshots
          --data-dir ${CMAKE_BINARY_DIR}/policy-demo-data
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(console_policy_browser PROPERTIES LABELS "e2e" TIMEOUT 300)
# Server-side paging through thousands of incidents, the overview's lag and
# the flows' drill-down to verifiable entries, in a real browser against a
# real `clover demo --synthetic-incidents 2500`.
add_test(NAME console_pages_browser
  COMMAND node ${PROJECT_SOURCE_DIR}/console/test/browser/pages.spec.mjs
          --clover $<TARGET_FILE:clover>
          --out ${CMAKE_BINARY_DIR}/console-screenshots
          --data-dir ${CMAKE_BINARY_DIR}/console-pages-demo-data
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(console_pages_browser PROPERTIES LABELS "e2e" TIMEOUT 300)
