# The divex command end to end: a shell script drives the real binary through
# help, key creation, roster entries and the envelope round trip, and checks
# every exit status, including each refusal.
add_test(NAME cli_basic
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_cli.sh $<TARGET_FILE:divex>)
set_tests_properties(cli_basic PROPERTIES TIMEOUT 300)
