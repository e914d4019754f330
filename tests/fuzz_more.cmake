# Hostile input: the libFuzzer harnesses of the decoders that had none (the
# node's reading of relay answers, every casework payload from a peer,
# Merkle proofs, the configuration files), and fault_abuse, the protocol
# abuse campaign against a live relay (tests/faults/fault_abuse.c).
divex_add_fuzzer(fuzz_proof ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_proof.c divex_core)
if(TARGET divex_relay_support AND TARGET divex_node_config)
  divex_add_fuzzer(fuzz_config ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_config.c
    divex_node_config divex_relay_support)
endif()
if(TARGET divex_relay_client)
  divex_add_fuzzer(fuzz_relay_answer ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_relay_answer.c
    divex_relay_client divex_seal)
  if(TARGET fuzz_relay_answer)
    target_sources(fuzz_relay_answer PRIVATE ${CMAKE_CURRENT_LIST_DIR}/fuzz/relay_answer_build.c)
  endif()
endif()
if(TARGET divex_node AND TARGET divex_cli)
  divex_add_fuzzer(fuzz_payload ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_payload.c
    divex_node divex_cli PkgConfig::JANSSON)
endif()
