# Build helpers shared by every directory: compiler flags, hardening, the
# sanitizer and fuzzing builds, and the one way to register a test.

function(divex_set_flags)
  add_compile_options(-Wall -Wextra -Wshadow -Wformat=2 -Wvla -Wstrict-prototypes
                      -Wmissing-prototypes -Wno-unused-parameter
                      -fno-strict-aliasing -fstack-protector-strong)
  if(DIVEX_WERROR)
    add_compile_options(-Werror)
  endif()
  # FORTIFY needs the optimiser; the sanitizer build keeps -O1 so it still applies.
  if(NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
    add_compile_definitions(_FORTIFY_SOURCE=2)
  endif()
  add_compile_definitions(_GNU_SOURCE)
  add_link_options(-Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack -pie)
  set(CMAKE_POSITION_INDEPENDENT_CODE ON PARENT_SCOPE)
  if(DIVEX_SANITIZE OR DIVEX_FUZZ)
    add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                        -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
  endif()
  if(DIVEX_FUZZ)
    # Coverage feedback from the libraries too, not only from the harness.
    add_compile_options(-fsanitize=fuzzer-no-link)
  endif()
endfunction()

# divex_add_test(NAME SOURCES... [LIBS libs...] [TIMEOUT seconds] [LABELS l...])
# One executable per module, each registered with ctest and a timeout.
function(divex_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} divex_testlib)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "DIVEX_SOURCE_DIR=${PROJECT_SOURCE_DIR};DIVEX_BINARY_DIR=${PROJECT_BINARY_DIR}")
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()

# divex_add_fuzzer(NAME SOURCE LIBS...): a libFuzzer harness, built only with
# -DDIVEX_FUZZ=ON (clang). Its seed corpus is tests/fuzz/corpus/NAME.
function(divex_add_fuzzer name source)
  if(NOT DIVEX_FUZZ)
    return()
  endif()
  add_executable(${name} ${source})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${name} PRIVATE ${ARGN})
endfunction()

# divex_protoc(OUTVAR files...): compile .proto files with protoc-c at build
# time. Generated code lives only in the build tree.
function(divex_protoc out_srcs)
  set(srcs)
  foreach(p ${ARGN})
    get_filename_component(base ${p} NAME_WE)
    set(c ${CMAKE_CURRENT_BINARY_DIR}/${base}.pb-c.c)
    set(h ${CMAKE_CURRENT_BINARY_DIR}/${base}.pb-c.h)
    add_custom_command(
      OUTPUT ${c} ${h}
      COMMAND ${PROTOC_C} --c_out=${CMAKE_CURRENT_BINARY_DIR}
              -I${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/${p}
      DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${p}
      COMMENT "protoc-c ${p}")
    list(APPEND srcs ${c})
  endforeach()
  set(${out_srcs} ${srcs} PARENT_SCOPE)
endfunction()
