# The audit log's Merkle tree and signed checkpoints (daemon/core/merkle.c,
# checkpoint.c), with their vectors in tests/vectors/merkle.json.
divex_add_test(test_merkle SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_merkle.c
  LIBS divex_core PkgConfig::JANSSON TIMEOUT 300)
divex_add_test(test_checkpoint SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_checkpoint.c
  LIBS divex_core PkgConfig::JANSSON TIMEOUT 120)
divex_add_fuzzer(fuzz_checkpoint ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_checkpoint.c divex_core)
