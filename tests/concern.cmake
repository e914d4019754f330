# The unauthorized-disclosure procedure (rule 15): the relay's `statements`
# operation and the node's checks of its answer, the sender's dossier built
# from them, concerns and explanations between two nodes through the divex
# command, and the fuzz harness of the statements answer.
if(TARGET divex-relay AND TARGET divex_relay_client)
  divex_add_test(test_relay_statements SOURCES relay/test_relay_statements.c
    LIBS divex_relay_testlib divex_relay_client divex_seal TIMEOUT 300)
  add_dependencies(test_relay_statements divex-relay)
endif()
divex_add_fuzzer(fuzz_relay_statements ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_relay_statements.c
  divex_relay_client)
if(TARGET divexd AND TARGET divex-relay AND TARGET divex)
  divex_add_test(test_node_concern SOURCES node/test_node_concern.c
    LIBS divex_node_testlib TIMEOUT 300)
  add_dependencies(test_node_concern divexd divex-relay divex)
  divex_add_test(test_concern_store SOURCES test_concern_store.c LIBS divex_concern_store
    TIMEOUT 60)
endif()
