# fr_simd.m4 — FR_CHECK_SIMD: which instruction-set paths this compiler can
# build. Each path is compiled as its own convenience library with its own
# -m flags (as libsodium does), so one binary runs on old and new CPUs; the
# path actually used is chosen at run time from the CPU's features.
#
# Defines HAVE_FR_AVX512, HAVE_FR_AVX2, HAVE_FR_NEON (config.h and automake
# conditionals), AVX512_CFLAGS, AVX2_CFLAGS, NEON_CFLAGS, fr_simd_summary.
AC_DEFUN([FR_SIMD_TRY], [
  dnl Arguments: path name, flags, includes, body, result variable.
  AC_MSG_CHECKING([whether $CC builds the $1 path with '$2'])
  fr_save_CFLAGS=$CFLAGS
  CFLAGS="$CFLAGS $2"
  AC_COMPILE_IFELSE([AC_LANG_PROGRAM([$3], [$4])], [$5=yes], [$5=no])
  CFLAGS=$fr_save_CFLAGS
  AC_MSG_RESULT([$][$5])
])
AC_DEFUN([FR_CHECK_SIMD], [
  AC_ARG_ENABLE([simd],
    [AS_HELP_STRING([--disable-simd], [build only the scalar CPU path])],
    [], [enable_simd=yes])
  fr_simd_summary=
  AVX512_CFLAGS="-mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma -mavx2"
  AVX2_CFLAGS="-mavx2 -mfma"
  NEON_CFLAGS=
  fr_have_avx512=no; fr_have_avx2=no; fr_have_neon=no
  AS_IF([test "x$enable_simd" != xno], [
    FR_SIMD_TRY([AVX-512], [$AVX512_CFLAGS], [[#include <immintrin.h>]],
      [[__m512 a = _mm512_set1_ps(1.0f); a = _mm512_fmadd_ps(a, a, a);
        return (int)_mm512_reduce_add_ps(a);]], [fr_have_avx512])
    FR_SIMD_TRY([AVX2+FMA], [$AVX2_CFLAGS], [[#include <immintrin.h>]],
      [[__m256 a = _mm256_set1_ps(1.0f); a = _mm256_fmadd_ps(a, a, a);
        return _mm256_movemask_ps(a);]], [fr_have_avx2])
    FR_SIMD_TRY([NEON], [$NEON_CFLAGS], [[#include <arm_neon.h>]],
      [[float32x4_t a = vdupq_n_f32(1.0f); a = vfmaq_f32(a, a, a);
        return (int)vaddvq_f32(a);]], [fr_have_neon])
  ])
  AS_IF([test "x$fr_have_avx512" = xyes], [
    AC_DEFINE([HAVE_FR_AVX512], [1], [Build the AVX-512 CPU path])
    fr_simd_summary="$fr_simd_summary avx512"])
  AS_IF([test "x$fr_have_avx2" = xyes], [
    AC_DEFINE([HAVE_FR_AVX2], [1], [Build the AVX2+FMA CPU path])
    fr_simd_summary="$fr_simd_summary avx2"])
  AS_IF([test "x$fr_have_neon" = xyes], [
    AC_DEFINE([HAVE_FR_NEON], [1], [Build the NEON CPU path])
    fr_simd_summary="$fr_simd_summary neon"])
  AM_CONDITIONAL([HAVE_FR_AVX512], [test "x$fr_have_avx512" = xyes])
  AM_CONDITIONAL([HAVE_FR_AVX2], [test "x$fr_have_avx2" = xyes])
  AM_CONDITIONAL([HAVE_FR_NEON], [test "x$fr_have_neon" = xyes])
  AC_SUBST([AVX512_CFLAGS])
  AC_SUBST([AVX2_CFLAGS])
  AC_SUBST([NEON_CFLAGS])
])
