# Tests of the relay's support modules (daemon/relay/support.cmake): metrics
# and their renderings, the admin HTTP server, the configuration file and the
# TLS certificate generator. Skipped until the relay's directory defines the
# library.
if(NOT TARGET divex_relay_support)
  return()
endif()
divex_add_test(test_metrics SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_metrics.c
  LIBS divex_relay_support PkgConfig::JANSSON TIMEOUT 120)
# /metrics checked by Prometheus's own parser and linter; reported as skipped
# when promtool (Debian package prometheus) is not installed.
add_test(NAME test_metrics_promtool COMMAND test_metrics promtool)
set_tests_properties(test_metrics_promtool PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)
divex_add_test(test_health SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_health.c
  LIBS divex_relay_support PkgConfig::JANSSON TIMEOUT 120)
divex_add_test(test_relay_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_relay_config.c
  LIBS divex_relay_support TIMEOUT 60)
divex_add_test(test_tlsgen SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tlsgen.c
  LIBS divex_relay_support TIMEOUT 120)
