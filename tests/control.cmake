# The control socket's decoders (divexd and divex sides) and the node's
# summary of a peer's payload, fuzzed.
if(TARGET divex_node)
  divex_add_fuzzer(fuzz_control ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_control.c divex_node)
endif()
