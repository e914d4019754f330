# common/: the careful helpers every layer uses.
divex_add_test(test_util SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_util.c LIBS divex_common TIMEOUT 60)
