# yb_add_unit_test(test-volume LIBS ybrepo [UNPRIVILEGED]): tests/unit/test-volume.c linked with
# cmocka; with UNPRIVILEGED, run once more as nobody when the tests run as root
# (tests/unit/as-nobody.sh), for cases only an unprivileged user reaches.
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)

function(yb_add_unit_test name)
  cmake_parse_arguments(T "UNPRIVILEGED" "" "LIBS" ${ARGN})
  add_executable(${name} ${CMAKE_SOURCE_DIR}/tests/unit/${name}.c ${CMAKE_SOURCE_DIR}/tests/unit/test.c)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit SKIP_RETURN_CODE 77 TIMEOUT 300
    ENVIRONMENT "${YB_SYMBOLIZER_ENV}")
  if(T_UNPRIVILEGED)
    add_test(NAME ${name}-unprivileged
      COMMAND sh ${CMAKE_SOURCE_DIR}/tests/unit/as-nobody.sh $<TARGET_FILE:${name}>)
    set_tests_properties(${name}-unprivileged PROPERTIES LABELS "unit;unprivileged"
      SKIP_RETURN_CODE 77 TIMEOUT 300 ENVIRONMENT "${YB_SYMBOLIZER_ENV}")
  endif()
endfunction()

# yb_add_integration_test(backup-restore [TIMEOUT s] [ONCE]): tests/integration/backup-restore.sh
# with the binaries on PATH, once as the current user and (unless ONCE) once more as nobody when
# that user is root.
# Sanitizer reports name functions and lines only with a symbolizer (Debian: llvm-14); the tests
# get its path whether they run from scripts/test.sh or from ctest directly.
find_program(YB_SYMBOLIZER NAMES llvm-symbolizer llvm-symbolizer-14 PATHS /usr/lib/llvm-14/bin)
if(YB_SYMBOLIZER)
  set(YB_SYMBOLIZER_ENV "ASAN_SYMBOLIZER_PATH=${YB_SYMBOLIZER}")
elseif(YB_SANITIZE)
  message(WARNING "No llvm-symbolizer (Debian package llvm-14): sanitizer reports will lack "
                  "function names")
endif()

function(yb_add_integration_test name)
  cmake_parse_arguments(T "ONCE" "TIMEOUT" "" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set(env "TESTS=${CMAKE_SOURCE_DIR}/tests;BIN=${CMAKE_BINARY_DIR};TEST_NAME=${name};PATH=${CMAKE_BINARY_DIR}:$ENV{PATH}")
  if(YB_SYMBOLIZER_ENV)
    list(APPEND env "${YB_SYMBOLIZER_ENV}")
  endif()
  add_test(NAME ${name} COMMAND sh ${CMAKE_SOURCE_DIR}/tests/integration/${name}.sh)
  set_tests_properties(${name} PROPERTIES LABELS integration SKIP_RETURN_CODE 77
    TIMEOUT ${T_TIMEOUT} ENVIRONMENT "${env}")
  if(T_ONCE)
    return()
  endif()
  add_test(NAME ${name}-unprivileged
    COMMAND sh ${CMAKE_SOURCE_DIR}/tests/integration/as-nobody.sh ${name})
  set_tests_properties(${name}-unprivileged PROPERTIES LABELS "integration;unprivileged"
    SKIP_RETURN_CODE 77 TIMEOUT ${T_TIMEOUT} ENVIRONMENT "${env}")
endfunction()
