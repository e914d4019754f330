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

# The peer's uid on ipc:// (what the local control sockets check).
divex_add_test(test_bridge_peer_uid
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/bridge/test_peer_uid.c LIBS divex_core TIMEOUT 60)
add_executable(peer_uid_client ${CMAKE_CURRENT_LIST_DIR}/bridge/peer_uid_client.c)
target_link_libraries(peer_uid_client PRIVATE divex_core)
add_dependencies(test_bridge_peer_uid peer_uid_client)
