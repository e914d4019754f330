# divex_relay_support: the relay's self-contained parts that need no request
# handling: the metrics registry and its renderings, the admin HTTP server
# (libmicrohttpd), the INI configuration (inih) and the self-signed TLS
# certificate generator (mbedTLS 2.28, the TLS library under Debian's nng).
# Included from daemon/relay/CMakeLists.txt; paths are relative to this file
# so that it can be included from anywhere.
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(INIH REQUIRED IMPORTED_TARGET inih)
find_package(Threads REQUIRED)
# Debian's libmbedtls-dev ships no pkg-config file: find the headers and link by name.
find_path(MBEDTLS_INCLUDE_DIR mbedtls/x509_crt.h REQUIRED)
find_library(MBEDTLS_LIB mbedtls REQUIRED)
find_library(MBEDX509_LIB mbedx509 REQUIRED)
find_library(MBEDCRYPTO_LIB mbedcrypto REQUIRED)

add_library(divex_relay_support STATIC
  ${CMAKE_CURRENT_LIST_DIR}/metrics.c
  ${CMAKE_CURRENT_LIST_DIR}/metrics_status.c
  ${CMAKE_CURRENT_LIST_DIR}/health.c
  ${CMAKE_CURRENT_LIST_DIR}/relay_config.c
  ${CMAKE_CURRENT_LIST_DIR}/tlsgen.c)
target_include_directories(divex_relay_support PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_include_directories(divex_relay_support SYSTEM PRIVATE ${MBEDTLS_INCLUDE_DIR})
target_link_libraries(divex_relay_support
  PUBLIC divex_core PkgConfig::MHD PkgConfig::INIH PkgConfig::JANSSON
         ${MBEDTLS_LIB} ${MBEDX509_LIB} ${MBEDCRYPTO_LIB} Threads::Threads)
