# Envelope sealing and opening, vectors, and the envelope fuzz harness.
add_library(divex_envelope_fixtures STATIC envelope/fixtures.c envelope/specseal.c)
target_include_directories(divex_envelope_fixtures PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/envelope)
target_link_libraries(divex_envelope_fixtures PUBLIC divex_seal divex_testlib)

divex_add_test(test_envelope SOURCES envelope/test_envelope.c
  LIBS divex_envelope_fixtures TIMEOUT 300)

# Deterministic vectors: the generator and the test share vectors.c.
add_library(divex_vectors STATIC vectors/vectors.c)
target_include_directories(divex_vectors PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/vectors)
target_link_libraries(divex_vectors PUBLIC divex_seal PkgConfig::JANSSON)
add_executable(gen_vectors vectors/gen_vectors.c)
target_link_libraries(gen_vectors PRIVATE divex_vectors)
divex_add_test(test_vectors SOURCES vectors/test_vectors.c LIBS divex_vectors TIMEOUT 60)

divex_add_fuzzer(fuzz_envelope ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_envelope.c divex_seal)
