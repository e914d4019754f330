# Rule 12 notices (docs/casework.md): the notices table of cases.db, sealed
# at rest; and notices, replies and the deadline book between three State
# nodes run as separate processes, with the date injected (DIVEX_TODAY).
divex_add_test(test_notice_store SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_notice_store.c
  LIBS divex_notice_store TIMEOUT 120)
if(TARGET divexd AND TARGET divex-relay AND TARGET divex)
  # divex_node_testlib is defined in tests/node.cmake; linking names it before it exists.
  divex_add_test(test_node_notice SOURCES node/test_node_notice.c
    LIBS divex_node_testlib TIMEOUT 300)
  add_dependencies(test_node_notice divexd divex-relay divex)
endif()
