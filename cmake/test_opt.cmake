# The GoogleTest programs' own files compile at -O1 in optimised builds (the
# release preset): the libraries they test keep the preset's -O2, so the code
# under test is the code that ships. Measured with the release preset's g++
# -O2 -g1: 5 of the heaviest test files 56.6 -> 43.7 user CPU-s (-23%); test
# files were ~925 of the ~1,950 CPU-s of CI's clean release build, most of it
# spent optimising GoogleTest's and GoogleMock's expansions. Test helper programs
# (crash helpers, daemons) are not GoogleTest programs and keep -O2.
include(${CMAKE_CURRENT_LIST_DIR}/targets.cmake)
option(CLOVER_TEST_O1 "Compile GoogleTest programs at -O1 in optimised builds" ON)

function(clover_apply_test_opt)
  if(NOT CLOVER_TEST_O1)
    return()
  endif()
  clover_all_targets(targets)
  foreach(t ${targets})
    get_target_property(type ${t} TYPE)
    if(NOT type STREQUAL "EXECUTABLE")
      continue()
    endif()
    get_target_property(libs ${t} LINK_LIBRARIES)
    if(libs MATCHES "GTest::")
      # After the build type's flags on the command line, so this -O wins.
      target_compile_options(${t} PRIVATE $<$<CONFIG:Release,RelWithDebInfo>:-O1>)
    endif()
  endforeach()
endfunction()
