# Process hardening (common/harden.c), the privilege drop of the daemons,
# the systemd units of dist/systemd/, and the knobs scripts/valgrind needs.

find_package(Threads REQUIRED)

# common/harden.c in one process; the drop itself runs in children as root.
divex_add_test(test_harden SOURCES harden/test_harden.c
  LIBS divex_common PkgConfig::SODIUM Threads::Threads TIMEOUT 60)

# The systemd units: exposure at most 1.5 ("OK") and a clean verify.
add_test(NAME harden_systemd_units
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/harden/check_units ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR} 15)
set_tests_properties(harden_systemd_units PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77)

# The daemons started by root with `user = nobody` (skipped, status 77,
# unless root). They link the relay and node test libraries, which
# relay.cmake and node.cmake define after this file: registered at the end
# of the directory.
function(divex_harden_process_tests)
  if(TARGET divex-relay AND TARGET divex_relay_testlib)
    divex_add_test(test_privdrop SOURCES harden/test_privdrop.c
      LIBS divex_relay_testlib divex_seal TIMEOUT 300)
    add_dependencies(test_privdrop divex-relay)
    set_tests_properties(test_privdrop PROPERTIES SKIP_RETURN_CODE 77)
  endif()
  if(TARGET divex_node_testlib)
    divex_add_test(test_privdrop_node SOURCES harden/test_privdrop_node.c
      LIBS divex_node_testlib TIMEOUT 300)
    add_dependencies(test_privdrop_node divexd divex-relay divex)
    set_tests_properties(test_privdrop_node PROPERTIES SKIP_RETURN_CODE 77)
  endif()
endfunction()
cmake_language(DEFER CALL divex_harden_process_tests)

# DIVEX_TEST_TIMEOUT_SCALE multiplies every test's TIMEOUT. scripts/valgrind
# sets it, since programs under memcheck run ten to fifty times slower; it is
# applied once every tests/*.cmake has registered its tests (deferred calls
# run in order, so after the one above).
set(DIVEX_TEST_TIMEOUT_SCALE 1 CACHE STRING "Whole factor applied to every test's timeout")
function(divex_scale_test_timeouts)
  get_property(all DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR} PROPERTY TESTS)
  foreach(t ${all})
    get_test_property(${t} TIMEOUT old)
    if(old)
      math(EXPR scaled "${old} * ${DIVEX_TEST_TIMEOUT_SCALE}")
      set_tests_properties(${t} PROPERTIES TIMEOUT ${scaled})
    endif()
  endforeach()
endfunction()
if(DIVEX_TEST_TIMEOUT_SCALE GREATER 1)
  cmake_language(DEFER CALL divex_scale_test_timeouts)
endif()
