# The State node's configuration file (daemon/node/node_config.c): defaults,
# the full example, path resolution, roles, and every refusal with its line.
divex_add_test(test_node_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_node_config.c
  LIBS divex_node_config TIMEOUT 60)
