# The environment failing under the daemons: a full disk (fault_disk, the
# relay's and a node's home on a small tmpfs), a clock outside the relay's
# window (fault_clock, divexd under libfaketime), and deadlines on the local
# calendar across daylight saving time (test_dst, unit tests of the date
# rules; fault_clock, the daemon's own "today" at local midnight).
# tests/faults/run runs the fault_* programs; ctest runs their bounded form.
if(TARGET divex_node)
  divex_add_test(test_dst SOURCES test_dst.c LIBS divex_node TIMEOUT 60)
endif()
if(TARGET divexd AND TARGET divex-relay AND TARGET divex)
  # divex_node_testlib is defined in tests/node.cmake, read after this file.
  foreach(theme disk clock)
    if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/faults/fault_${theme}.c)
      continue()
    endif()
    divex_add_test(fault_${theme} SOURCES faults/fault_${theme}.c
      LIBS divex_node_testlib TIMEOUT 300)
    add_dependencies(fault_${theme} divexd divex-relay divex)
    # Exit status 77: the fault could not be staged here (no root for a
    # mount, no libfaketime); the program says why.
    set_tests_properties(fault_${theme} PROPERTIES SKIP_RETURN_CODE 77)
  endforeach()
endif()
