# pc_add_test(NAME name SOURCES ... LIBS ... LABELS ... [TIMEOUT s])
# Builds a doctest executable (with the shared doctest main) and registers it in CTest.
find_path(DOCTEST_INCLUDE_DIR doctest/doctest.h REQUIRED)

function(pc_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE pc_doctest_main ${T_LIBS} pc_warnings)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
endfunction()
