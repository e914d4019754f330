# Casework rules: rule 12 notice dates, rule 16 consent decisions and the
# export rule, rule 15 audit dossiers (built from a real relay exchange), and
# the fuzz harnesses of the consent and dossier decoders.
divex_add_test(test_notice_rules SOURCES casework/test_notice_rules.c LIBS divex_core TIMEOUT 60)
divex_add_test(test_consent SOURCES casework/test_consent.c LIBS divex_keys PkgConfig::JANSSON
               TIMEOUT 120)
divex_add_fuzzer(fuzz_consent ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_consent.c divex_keys)
# The dossier test drives a relay child process with the relay tests' harness,
# compiled in here because this file is read before tests/relay.cmake.
if(TARGET divex-relay)
  divex_add_test(test_dossier SOURCES relay/test_dossier.c relay/proc.c relay/client.c
    relay/harness.c LIBS divex_seal TIMEOUT 300)
  target_include_directories(test_dossier PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/relay)
  add_dependencies(test_dossier divex-relay divex)
endif()
divex_add_fuzzer(fuzz_dossier ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_dossier.c divex_core)
