# tests/fed.mk — federated algorithms.
# The federation core alone, through its client interface (a toy model).
check_PROGRAMS += tests/test_fed_core
tests_test_fed_core_SOURCES = tests/test_fed_core.c tests/testutil.h
tests_test_fed_core_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_fed_core

check_PROGRAMS += tests/test_pfedrec
tests_test_pfedrec_SOURCES = tests/test_pfedrec.c tests/testutil.h
tests_test_pfedrec_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_pfedrec

check_PROGRAMS += tests/test_pfedrec_ml100k
tests_test_pfedrec_ml100k_SOURCES = tests/test_pfedrec_ml100k.c tests/testutil.h
tests_test_pfedrec_ml100k_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_pfedrec_ml100k

check_PROGRAMS += tests/test_baselines
tests_test_baselines_SOURCES = tests/test_baselines.c tests/testutil.h
tests_test_baselines_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_baselines

check_PROGRAMS += tests/test_fedmsmt
tests_test_fedmsmt_SOURCES = tests/test_fedmsmt.c tests/testutil.h
tests_test_fedmsmt_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_fedmsmt
check_PROGRAMS += tests/test_privacy
tests_test_privacy_SOURCES = tests/test_privacy.c tests/testutil.h
tests_test_privacy_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_privacy

# PFedRec's round, a PF-MSMTrec aggregation step and a PMTRec weighting
# step recomputed independently on hand-made toys.
check_PROGRAMS += tests/test_arithmetic
tests_test_arithmetic_SOURCES = tests/test_arithmetic.c tests/testutil.h
tests_test_arithmetic_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_arithmetic

# The engine's trained model: taken after a round, evaluated again to the
# round's figures; scores from its arrays.
check_PROGRAMS += tests/test_pfedrec_model
tests_test_pfedrec_model_SOURCES = tests/test_pfedrec_model.c tests/testutil.h
tests_test_pfedrec_model_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_pfedrec_model

# PFedRec and FedMF as cohorts on the CPU backend and OpenCL (PoCL) against
# the one-by-one host path, on a dense and a sparse data set.
check_PROGRAMS += tests/test_cohort
tests_test_cohort_SOURCES = tests/test_cohort.c tests/testutil.h tests/testutil_cl.h
tests_test_cohort_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_cohort
