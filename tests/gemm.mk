# tests/gemm.mk — the CPU engine: GEMM on every path, level-1 BLAS, ISA names.
check_PROGRAMS += tests/test_gemm
tests_test_gemm_SOURCES = tests/test_gemm.c tests/testutil.h
tests_test_gemm_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_gemm
