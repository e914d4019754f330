# Tests of keys/: key sets, fingerprints, key files and passphrases, roster
# entries; and the libFuzzer harnesses of the two decoders of untrusted bytes
# in this layer (roster entries, key file images).
divex_add_test(test_keys SOURCES test_keys.c LIBS divex_keys TIMEOUT 120)
divex_add_test(test_fingerprint SOURCES test_fingerprint.c LIBS divex_keys PkgConfig::JANSSON
               TIMEOUT 120)
divex_add_test(test_keyfile SOURCES test_keyfile.c LIBS divex_keys TIMEOUT 300)
divex_add_test(test_passphrase SOURCES test_passphrase.c LIBS divex_keys TIMEOUT 120)
divex_add_test(test_roster SOURCES test_roster.c LIBS divex_keys PkgConfig::JANSSON TIMEOUT 300)

divex_add_fuzzer(fuzz_roster ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_roster.c divex_keys)
divex_add_fuzzer(fuzz_keyfile ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_keyfile.c divex_keys)
