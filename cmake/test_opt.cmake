# The GoogleTest programs' own files compile at a lower optimisation than the
# libraries they test, which keep their preset's level, so the code under test is
# the code that ships (release) or that the sanitizers check (asan):
# - optimised builds (release preset, g++ -O2 -g1): -O1. 5 of the heaviest test
#   files 56.6 -> 43.7 user CPU-s (-23%); test files were ~925 of the ~1,950
#   CPU-s of CI's clean release build, mostly optimising GoogleTest's and
#   GoogleMock's expansions.
# - sanitizer builds (asan preset, clang -O1): -O0. auditor_test.cc and
#   vault_test.cc 38.7 -> 18.4 user CPU-s (-52%); ASan and UBSan still check
#   every access and operation of the test code (-O0 removes none of them).
# Libraries linking GoogleTest (test support) count as test code. Test helper
# programs (crash helpers, daemons) are not GoogleTest programs and keep their
# preset's level.
include(${CMAKE_CURRENT_LIST_DIR}/targets.cmake)
option(CLOVER_TEST_OPT "Compile GoogleTest programs below the libraries' optimisation" ON)

function(clover_apply_test_opt)
  if(NOT CLOVER_TEST_OPT)
    return()
  endif()
  if(CMAKE_CXX_FLAGS MATCHES "-fsanitize=")
    set(level -O0)
  else()
    set(level $<$<CONFIG:Release,RelWithDebInfo>:-O1>)
  endif()
  # The header the test programs precompile (cmake/pch.cmake) at the same level:
  # clang refuses a PCH built with other optimisation (__OPTIMIZE__ differs).
  if(TARGET clover_test_pch)
    target_compile_options(clover_test_pch PRIVATE ${level})
  endif()
  clover_all_targets(targets)
  foreach(t ${targets})
    get_target_property(type ${t} TYPE)
    # Test support libraries (audit/auditor_fixture.h's) are test code too, and
    # use the test programs' precompiled header, which must match their level.
    if(NOT type MATCHES "^(STATIC_LIBRARY|EXECUTABLE)$")
      continue()
    endif()
    get_target_property(libs ${t} LINK_LIBRARIES)
    if(libs MATCHES "GTest::")
      # After the build type's and CMAKE_CXX_FLAGS' -O on the command line: it wins.
      target_compile_options(${t} PRIVATE ${level})
    endif()
  endforeach()
endfunction()
