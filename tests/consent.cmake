# Consent and export (rule 16, Model ToR; docs/casework.md): the consent
# tables of the case database and the check of a received decision; and
# consent asked, granted with conditions and revoked between two State nodes
# run as separate processes, with exports refused and allowed accordingly.
divex_add_test(test_consent_store SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_consent_store.c
  LIBS divex_consent_store TIMEOUT 120)
if(TARGET divexd AND TARGET divex-relay AND TARGET divex)
  divex_add_test(test_node_consent SOURCES node/test_node_consent.c
    LIBS divex_node_testlib TIMEOUT 300)
  add_dependencies(test_node_consent divexd divex-relay divex)
endif()
