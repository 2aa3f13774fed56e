/* testutil.h — tiny assertion helpers shared by the C tests.
 *
 * A test program exits 0 when every check passed, 77 to tell automake's
 * harness it skipped (TEST_SKIP: the whole program cannot run here; the
 * reason on stderr), 1 on any failure. CHECK records a failure and carries
 * on, so one run reports every broken case.
 *
 * Tests tell the truth: a part of a program that cannot run here (data in
 * ../shared absent, no OpenCL device, a CPU path this CPU lacks) is never
 * passed over in silence: TEST_SKIP_PART prints one line "SKIP: <the part>:
 * <why>" on stderr and the program goes on with its other parts. .ci/run
 * counts each such line in the test logs as one skipped test (the shell
 * tests do the same with skip_part, tests/testutil.sh). */
#ifndef FR_TESTUTIL_H
#define FR_TESTUTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int fr_test_failures;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fr_test_failures++;                                            \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__,         \
                    __LINE__, #cond);                                      \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

/* A library call that must succeed; prints fr_last_error() if it fails. */
#define CHECK_OK(expr)                                                     \
    do {                                                                   \
        fr_status chk_s_ = (expr);                                         \
        if (chk_s_ != FR_OK) {                                             \
            fr_test_failures++;                                            \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__,        \
                    __LINE__, #expr, fr_status_name(chk_s_),               \
                    fr_last_error());                                      \
        }                                                                  \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                              \
    do {                                                                   \
        double chk_a_ = (a), chk_b_ = (b);                                 \
        if (!(fabs(chk_a_ - chk_b_) <= (tol))) {                           \
            fr_test_failures++;                                            \
            fprintf(stderr, "%s:%d: %s = %.9g, expected %.9g (tol %g)\n",  \
                    __FILE__, __LINE__, #a, chk_a_, chk_b_, (double)(tol));\
        }                                                                  \
    } while (0)

/* The whole program cannot run here: says why, exits 77 (automake's SKIP). */
#define TEST_SKIP(...)                                                     \
    do {                                                                   \
        fprintf(stderr, "SKIP: " __VA_ARGS__);                             \
        fputc('\n', stderr);                                               \
        exit(77);                                                          \
    } while (0)

static int fr_test_skipped_parts;

/* One part of the program cannot run here: a line "SKIP: ..." (counted as
 * a skipped test by .ci/run); the caller goes on with the other parts. */
#define TEST_SKIP_PART(...)                                                \
    do {                                                                   \
        fr_test_skipped_parts++;                                           \
        fprintf(stderr, "SKIP: " __VA_ARGS__);                             \
        fputc('\n', stderr);                                               \
    } while (0)

static inline int fr_test_finish(const char *name)
{
    if (fr_test_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, fr_test_failures);
        return 1;
    }
    if (fr_test_skipped_parts)
        fprintf(stderr, "%s: all checks that ran passed; %d part(s) skipped (the SKIP lines above)\n", name,
                fr_test_skipped_parts);
    else
        fprintf(stderr, "%s: all checks passed\n", name);
    return 0;
}

#endif
