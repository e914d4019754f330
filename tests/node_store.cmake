# The State node's durable store (daemon/node/node_store*.c): the outbox,
# sequence numbers and crash consistency in test_node_store; the roster
# mirror's pinning and the relay checkpoints in test_node_store_trust; the
# inbox, gap tracking and sealing at rest in test_node_store_inbox.
divex_add_test(test_node_store SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_node_store.c
  LIBS divex_node_store TIMEOUT 120)
divex_add_test(test_node_store_trust SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_node_store_trust.c
  LIBS divex_node_store TIMEOUT 120)
divex_add_test(test_node_store_inbox SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_node_store_inbox.c
  LIBS divex_node_store divex_testlib_sql TIMEOUT 120)
