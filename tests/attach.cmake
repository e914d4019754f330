# Encrypted attachments: daemon/core/attach.c. The 100 MiB constant-memory
# round trip makes this the slowest unit test, hence the long timeout.
divex_add_test(test_attach
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_attach.c
  LIBS divex_seal PkgConfig::JANSSON
  TIMEOUT 600)
divex_add_fuzzer(fuzz_attach ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_attach.c divex_seal)
