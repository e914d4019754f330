# The nng <-> libuv bridge (daemon/core/bridge.c, bridge_client.c): echo under
# load from client threads, deferred and dropped replies, size caps, timeouts,
# closing with requests in flight, TLS with the committed test-only
# certificates in tests/bridge/.
divex_add_test(test_bridge
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bridge.c ${CMAKE_CURRENT_LIST_DIR}/bridge/test_bridge_close.c
          ${CMAKE_CURRENT_LIST_DIR}/bridge/bridge_fixture.c
  LIBS divex_core
  TIMEOUT 120)
target_include_directories(test_bridge PRIVATE ${CMAKE_CURRENT_LIST_DIR}/bridge)
