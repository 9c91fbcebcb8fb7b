# heteroaccel_target(<name>): applies the project's warning set to one of our targets.
function(heteroaccel_warnings target)
  # Aggregates rely on default member initializers, so omitted fields are intended.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Werror
                         -Wno-missing-field-initializers)
endfunction()

# heteroaccel_test(<name> SOURCES ... DEPS ... [LABELS ...]): one gtest binary registered with ctest.
function(heteroaccel_test name)
  cmake_parse_arguments(T "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  heteroaccel_warnings(${name})
  # Labels: `unit` unless others are given (e.g. "e2e;models" for tests that run the
  # real models for minutes, which the sanitizer run leaves out). gtest_discover_tests
  # splits a list inside PROPERTIES however it is escaped, so the labels are set by a
  # script ctest includes after discovery.
  set(labels unit)
  if(T_LABELS)
    set(labels ${T_LABELS})
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES ENVIRONMENT "HETEROACCEL_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  set(script ${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake)
  file(WRITE ${script}
    "if(${name}_TESTS)\n  set_tests_properties(\${${name}_TESTS} PROPERTIES LABELS \"${labels}\")\nendif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${script})
endfunction()
