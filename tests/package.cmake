# The Debian package (packaging/packaging.cmake): contents, units (systemd-analyze verify),
# the extracted binary on the shipped examples, and the maintainer scripts in a throwaway root.
# Runs cpack on the built tree: clover, clover_man and clover_changelogs must be built (`all`).
add_test(NAME package
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/package_test.sh ${PROJECT_BINARY_DIR} ${PROJECT_VERSION}
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(package PROPERTIES LABELS "package" TIMEOUT 600 SKIP_RETURN_CODE 77)
