# Requests for information (Model ToR, docs/casework.md): the requests table
# of cases.db, sealed at rest; and requests and responses between three
# State nodes run as separate processes, with the date injected (DIVEX_TODAY).
divex_add_test(test_request_store SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_request_store.c
  LIBS divex_request_store TIMEOUT 120)
if(TARGET divexd AND TARGET divex-relay AND TARGET divex)
  # divex_node_testlib is defined in tests/node.cmake; linking names it before it exists.
  divex_add_test(test_node_request SOURCES node/test_node_request.c
    LIBS divex_node_testlib TIMEOUT 300)
  add_dependencies(test_node_request divexd divex-relay divex)
endif()
