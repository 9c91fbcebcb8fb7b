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
  # A list inside PROPERTIES must have its separators escaped.
  set(labels unit ${T_LABELS})
  string(REPLACE ";" "\\;" labels "${labels}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${labels}"
    ENVIRONMENT "HETEROACCEL_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
