# The legacy migration's parsers (migrate/mapping.h, migrate/source.h): the
# mapping file, CSV dumps and NDJSON rows.
if(TARGET clover_migrate)
  clover_fuzzer(fuzz_migrate_legacy_input
    SRCS ${CMAKE_CURRENT_LIST_DIR}/migrate_legacy_input_fuzz.cc
    DEPS clover_migrate)
endif()
