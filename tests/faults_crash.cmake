# The crash campaign (tests/faults/fault_crash.c): the relay, a sending and a
# receiving node killed with SIGKILL at random points under a sustained load,
# then every message accounted for and the audit log checked. ctest runs the
# bounded form; `tests/faults/run --full crash` the long one.
if(TARGET divexd AND TARGET divex-relay AND TARGET divex)
  divex_add_test(fault_crash
    SOURCES faults/fault_crash.c faults/crash_load.c faults/crash_check.c faults/crash_audit.c
    LIBS divex_node_testlib divex_core TIMEOUT 900)
  target_include_directories(fault_crash PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/faults)
  add_dependencies(fault_crash divexd divex-relay divex)
endif()
