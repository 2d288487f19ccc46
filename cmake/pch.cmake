# Precompiled headers for clang builds (the asan preset: unit tests and fuzzers in
# CI): two headers, each built once and reused by every target (REUSE_FROM).
# Measured on 8 of the heaviest files, user CPU on one core: clang ASan -O1 -g1
# 118 s -> 100 s (-15%); CI's clean ASan tree spent ~1,450 CPU-s compiling.
# Not for g++ (the release preset): it gained only 67 s -> 59 s there, and g++ 12
# compiles differently with a PCH: a false -Warray-bounds inside <string> appeared
# in core/json_parse_test.cc that the same compile without the PCH does not give,
# even with -Wsystem-headers, which -Werror turns into a failed build.
# CLOVER_PCH=OFF builds without them, e.g. to check that each file includes what
# it uses.
include(${CMAKE_CURRENT_LIST_DIR}/targets.cmake)
option(CLOVER_PCH "Precompile the common headers" ON)

# ccache caches PCH-using compiles only with these sloppiness settings (ccache's
# manual, "Precompiled headers"); without them every such compile is a miss.
# Set here so that /work/ccache.env and developers' own settings need no change.
if(CLOVER_PCH AND CCACHE_PROGRAM AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  set(clover_ccache_launcher ${CMAKE_COMMAND} -E env
    "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
    ${CCACHE_PROGRAM})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${clover_ccache_launcher})
  set(CMAKE_C_COMPILER_LAUNCHER ${clover_ccache_launcher})
endif()

# clover_apply_pch(): call once, after every target is defined. Every static
# library and executable that links clover_options uses the common header, or
# the test one if it links GoogleTest. Left out: object libraries (the RocksDB
# CRC32C hook is compiled without spdlog's definitions) and the fuzzers
# (-fsanitize=fuzzer differs from the header's flags, which clang refuses).
function(clover_apply_pch)
  if(NOT CLOVER_PCH OR NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    return()
  endif()
  add_library(clover_pch STATIC ${PROJECT_SOURCE_DIR}/cmake/pch_stub.cc)
  target_link_libraries(clover_pch PRIVATE clover_options absl::strings
    absl::status absl::statusor absl::time absl::synchronization
    absl::flat_hash_map spdlog::spdlog)
  target_precompile_headers(clover_pch PRIVATE ${PROJECT_SOURCE_DIR}/cmake/pch_common.h)
  add_library(clover_test_pch STATIC ${PROJECT_SOURCE_DIR}/cmake/pch_stub.cc)
  target_link_libraries(clover_test_pch PRIVATE clover_options absl::strings
    absl::status absl::statusor absl::time absl::synchronization
    absl::flat_hash_map spdlog::spdlog GTest::gtest GTest::gmock)
  target_precompile_headers(clover_test_pch PRIVATE ${PROJECT_SOURCE_DIR}/cmake/pch_test.h)
  # Without it clang records the headers' mtimes in the PCH, and ccache then
  # cannot cache what uses it (ccache's manual).
  target_compile_options(clover_pch PRIVATE -Xclang -fno-pch-timestamp)
  target_compile_options(clover_test_pch PRIVATE -Xclang -fno-pch-timestamp)

  clover_all_targets(targets)
  foreach(t ${targets})
    get_target_property(type ${t} TYPE)
    if(NOT type MATCHES "^(STATIC_LIBRARY|EXECUTABLE)$" OR t MATCHES "^(clover_pch|clover_test_pch)$")
      continue()
    endif()
    get_target_property(libs ${t} LINK_LIBRARIES)
    get_target_property(opts ${t} COMPILE_OPTIONS)
    if(NOT "clover_options" IN_LIST libs OR "-fsanitize=fuzzer" IN_LIST opts)
      continue()
    endif()
    if(libs MATCHES "GTest::")
      target_precompile_headers(${t} REUSE_FROM clover_test_pch)
    else()
      target_precompile_headers(${t} REUSE_FROM clover_pch)
    endif()
  endforeach()
endfunction()
