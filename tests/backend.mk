# tests/backend.mk — every backend op on every CPU path against the scalar
# reference; the dispatcher's fallback and argument checks; the OpenCL
# backend's shadow coherence under injected transfer and launch failures.
check_PROGRAMS += tests/test_conformance tests/test_backend_fallback tests/test_cl_coherence
tests_test_conformance_SOURCES = tests/test_conformance.c tests/ref_ops.c tests/ref_ops.h tests/testutil.h
tests_test_conformance_LDADD = $(FR_TEST_LIBS)
tests_test_backend_fallback_SOURCES = tests/test_backend_fallback.c tests/testutil.h
tests_test_backend_fallback_LDADD = $(FR_TEST_LIBS)
tests_test_cl_coherence_SOURCES = tests/test_cl_coherence.c tests/testutil.h
tests_test_cl_coherence_CFLAGS = $(AM_CFLAGS) $(OPENCL_CFLAGS)
tests_test_cl_coherence_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_conformance tests/test_backend_fallback tests/test_cl_coherence
# A task's failure on a worker thread reaches the caller with its message.
check_PROGRAMS += tests/test_pool_errors
tests_test_pool_errors_SOURCES = tests/test_pool_errors.c tests/testutil.h
tests_test_pool_errors_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_pool_errors
# fedrec/host.h: the CPU paths on host memory against the reference.
check_PROGRAMS += tests/test_host
tests_test_host_SOURCES = tests/test_host.c tests/ref_ops.c tests/ref_ops.h tests/testutil.h
tests_test_host_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_host
