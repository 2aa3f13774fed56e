# tests/nn.mk — layers, losses, parameters, optimisers.
check_PROGRAMS += tests/test_gradcheck tests/test_params tests/test_optim
tests_test_gradcheck_SOURCES = tests/test_gradcheck.c tests/testutil.h
tests_test_gradcheck_LDADD = $(FR_TEST_LIBS)
tests_test_params_SOURCES = tests/test_params.c tests/testutil.h
tests_test_params_LDADD = $(FR_TEST_LIBS)
tests_test_optim_SOURCES = tests/test_optim.c tests/testutil.h
tests_test_optim_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_gradcheck tests/test_params tests/test_optim
# The gradient check must reject gradients scaled by 1.01 (its test hook).
TESTS += tests/test_gradcheck_mutants.sh
EXTRA_DIST += tests/test_gradcheck_mutants.sh
