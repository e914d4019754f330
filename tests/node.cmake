# State nodes as separate processes (tests/node/): a relay and several
# divexd daemons on loopback, driven only through the divex command. Built
# once the daemon exists; each theme is one executable.
if(TARGET divexd AND TARGET divex-relay AND TARGET divex)
  add_library(divex_node_testlib STATIC node/nodes.c relay/proc.c)
  target_include_directories(divex_node_testlib PUBLIC
    ${CMAKE_CURRENT_SOURCE_DIR}/node ${CMAKE_CURRENT_SOURCE_DIR}/relay)
  target_link_libraries(divex_node_testlib PUBLIC divex_testlib PkgConfig::JANSSON)
  foreach(theme exchange faults equivocation admin contacts)
    divex_add_test(test_node_${theme} SOURCES node/test_node_${theme}.c
      LIBS divex_node_testlib TIMEOUT 300)
    add_dependencies(test_node_${theme} divexd divex-relay divex)
  endforeach()
  # test_node_faults edits a stopped node's store to make a lost receipt.
  target_link_libraries(test_node_faults PRIVATE divex_core)
endif()
