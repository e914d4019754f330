# The protocol abuse campaign (tests/faults/fault_abuse.c, abuse_auth.c):
# raw bytes through nngcat, forged and borrowed signatures, replays of every
# request type, slow clients and a flood against a live divex-relay. ctest
# runs the bounded form; `tests/faults/run --full abuse` the long one.
if(TARGET divex-relay)
  # divex_relay_testlib is defined in tests/relay.cmake, read after this file.
  find_package(Threads REQUIRED)
  divex_add_test(fault_abuse SOURCES faults/fault_abuse.c faults/abuse_auth.c
    LIBS divex_relay_testlib divex_seal Threads::Threads TIMEOUT 300)
  target_include_directories(fault_abuse PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/faults)
  add_dependencies(fault_abuse divex-relay)
endif()
