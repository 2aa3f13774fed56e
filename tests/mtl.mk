# tests/mtl.mk — feature tables and multi-scenario multi-task models.
check_PROGRAMS += tests/test_msmt
tests_test_msmt_SOURCES = tests/test_msmt.c tests/testutil.h
tests_test_msmt_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_msmt
