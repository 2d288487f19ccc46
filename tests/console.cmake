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
