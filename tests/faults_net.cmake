# The network fault campaign (tests/faults/): State nodes reach their relay
# through an in-process fault proxy that cuts, black-holes, refuses, delays,
# throttles and splits the link, over tcp:// and tls+tcp://. The bounded
# form runs with the suite; `tests/faults/run --full net` runs the long one.
if(TARGET divexd AND TARGET divex-relay AND TARGET divex)
  find_package(Threads REQUIRED)
  divex_add_test(fault_net
    SOURCES faults/fault_net.c faults/fault_net_proxy.c faults/netfix.c faults/faultproxy.c
    LIBS divex_node_testlib Threads::Threads TIMEOUT 600)
  target_include_directories(fault_net PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/faults)
  add_dependencies(fault_net divexd divex-relay divex)
endif()
