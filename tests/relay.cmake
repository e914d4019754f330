# The relay as a separate process on loopback (tcp and tls+tcp).
if(TARGET divex-relay)
  add_library(divex_relay_testlib STATIC relay/proc.c relay/client.c relay/harness.c)
  target_include_directories(divex_relay_testlib PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/relay)
  target_link_libraries(divex_relay_testlib PUBLIC divex_seal divex_testlib)
  divex_add_test(test_relay SOURCES relay/test_relay.c
    LIBS divex_relay_testlib divex_seal TIMEOUT 300)
  add_dependencies(test_relay divex-relay)
endif()
if(TARGET divex-relay)
  divex_add_test(test_relay_faults SOURCES relay/test_relay_faults.c
    LIBS divex_relay_testlib divex_seal TIMEOUT 300)
  add_dependencies(test_relay_faults divex-relay divex)
endif()
if(TARGET divex-relay)
  divex_add_test(test_relay_retention SOURCES relay/test_relay_retention.c
    LIBS divex_relay_testlib divex_seal divex_testlib_sql TIMEOUT 120)
  add_dependencies(test_relay_retention divex-relay)
endif()

divex_add_fuzzer(fuzz_relay_request ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_relay_request.c divex_core)

if(TARGET divex_relay)
  divex_add_test(test_relay_replay SOURCES test_relay_replay.c LIBS divex_relay TIMEOUT 120)
endif()

# The request-session vector (PROTOCOL.md 12.2), computed by gen_session.py.
divex_add_test(test_session_vector SOURCES vectors/test_session_vector.c
  LIBS divex_core divex_keys PkgConfig::JANSSON TIMEOUT 60)
