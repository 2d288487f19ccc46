# clover_all_targets(OUT): every target defined in this project, for settings that
# apply to all targets of a kind (cmake/pch.cmake, cmake/test_opt.cmake) without
# editing each part's CMakeLists. Call after every add_subdirectory.
function(clover_all_targets out)
  set(all)
  set(dirs ${PROJECT_SOURCE_DIR})
  while(dirs)
    list(POP_FRONT dirs dir)
    get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
    list(APPEND dirs ${subdirs})
    get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
    list(APPEND all ${targets})
  endwhile()
  set(${out} ${all} PARENT_SCOPE)
endfunction()
