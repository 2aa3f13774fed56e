# tests/mtr.mk — multi-task recommendation: gradient combiners, tasks,
# splits, relations, full ranking.
check_PROGRAMS += tests/test_combine
tests_test_combine_SOURCES = tests/test_combine.c tests/testutil.h
tests_test_combine_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_combine

check_PROGRAMS += tests/test_mtrec
tests_test_mtrec_SOURCES = tests/test_mtrec.c tests/testutil.h
tests_test_mtrec_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_mtrec
# PMTRec's weighting step is also recomputed independently in
# tests/test_arithmetic (tests/fed.mk).

check_PROGRAMS += tests/test_mtr_backend
tests_test_mtr_backend_SOURCES = tests/test_mtr_backend.c tests/testutil.h tests/testutil_cl.h
tests_test_mtr_backend_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_mtr_backend
