# tests/config.mk — the typed configuration and its reference doc.
check_PROGRAMS += tests/test_config
tests_test_config_SOURCES = tests/test_config.c tests/testutil.h
tests_test_config_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_config
EXTRA_DIST += tests/config/good.ini
