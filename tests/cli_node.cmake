# The divex commands that talk to the State daemon, against a fake control
# socket in the test process (tests/cli/fake_divexd.c): the real divex binary
# runs as a child. test_cli_node covers status, inbox, read, roster, outbox,
# receipts, keys verify, audit, the refusals and `divex init` (whose
# divexd.conf the daemon's own parser must accept); test_cli_node_send covers
# send, reply and attachments both ways.
find_package(nng CONFIG REQUIRED)
add_library(divex_cli_fake STATIC ${CMAKE_CURRENT_LIST_DIR}/cli/fake_divexd.c)
target_include_directories(divex_cli_fake PUBLIC ${CMAKE_CURRENT_LIST_DIR}/cli)
target_link_libraries(divex_cli_fake PUBLIC divex_proto divex_testlib nng::nng)

divex_add_test(test_cli_node SOURCES ${CMAKE_CURRENT_LIST_DIR}/cli/test_cli_node.c
  LIBS divex_cli_fake PkgConfig::JANSSON TIMEOUT 300)
add_dependencies(test_cli_node divex)
if(TARGET divex_node_config)
  target_link_libraries(test_cli_node PRIVATE divex_node_config)
  target_compile_definitions(test_cli_node PRIVATE DIVEX_TEST_NODE_CONFIG)
endif()

divex_add_test(test_cli_node_send SOURCES ${CMAKE_CURRENT_LIST_DIR}/cli/test_cli_node_send.c
  LIBS divex_cli_fake divex_seal PkgConfig::JANSSON TIMEOUT 300)
add_dependencies(test_cli_node_send divex)
