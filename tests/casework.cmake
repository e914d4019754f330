# Cases and case notes (docs/casework.md): the node's case store, sealed at
# rest; the CLI's case file parser and printer (with its fuzz harness); and
# a case note shared between two State nodes run as separate processes.
divex_add_test(test_case_store SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_case_store.c
  LIBS divex_case_store TIMEOUT 120)
divex_add_test(test_case_json SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_case_json.c
  LIBS divex_cli TIMEOUT 120)
divex_add_fuzzer(fuzz_case_json ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_case_json.c divex_cli)
if(TARGET divexd AND TARGET divex-relay AND TARGET divex)
  # divex_node_testlib is defined in tests/node.cmake; linking names it before it exists.
  divex_add_test(test_node_case SOURCES node/test_node_case.c
    LIBS divex_node_testlib TIMEOUT 300)
  add_dependencies(test_node_case divexd divex-relay divex)
endif()
