# The State node's relay client against a real divex-relay child process.
if(TARGET divex-relay)
  divex_add_test(test_relay_client SOURCES relay/test_relay_client.c relay/rc_fixture.c
    LIBS divex_relay_client divex_relay_testlib divex_seal TIMEOUT 300)
  add_dependencies(test_relay_client divex-relay)
endif()
if(TARGET divex-relay)
  divex_add_test(test_relay_client_data SOURCES relay/test_relay_client_data.c relay/rc_fixture.c
    LIBS divex_relay_client divex_relay_testlib divex_seal TIMEOUT 300)
  add_dependencies(test_relay_client_data divex-relay)
endif()
if(TARGET divex-relay)
  divex_add_test(test_session SOURCES relay/test_session.c relay/rc_fixture.c
    LIBS divex_relay_client divex_relay_testlib divex_seal TIMEOUT 300)
  add_dependencies(test_session divex-relay)
endif()
