# fr_vectorize.m4 — FR_VECTORIZE_FLAGS: ask the compiler to vectorise loops
# with its full cost model. The CPU fallback's element-wise, batch-norm and
# optimiser loops are written to vectorise (restrict pointers, no branches)
# but GCC's -O2 only vectorises loops that need no remainder loop, which
# left them scalar (ReLU and batch-norm took a third of an MMoE step).
# Vectorising these loops does not reorder any sum, so results are the same.
# Kept to the flags the compiler accepts; --disable-vectorize leaves CFLAGS
# alone.
AC_DEFUN([FR_VECTORIZE_FLAGS], [
  AC_ARG_ENABLE([vectorize],
    [AS_HELP_STRING([--disable-vectorize],
      [do not add -ftree-vectorize -fvect-cost-model=dynamic to the library's flags])],
    [], [enable_vectorize=yes])
  VEC_CFLAGS=
  AS_IF([test "x$enable_vectorize" != xno], [
    for fr_flag in -ftree-vectorize -fvect-cost-model=dynamic; do
      AC_MSG_CHECKING([whether $CC accepts $fr_flag])
      fr_save_CFLAGS=$CFLAGS
      CFLAGS="$CFLAGS -Werror $fr_flag"
      AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
        [AC_MSG_RESULT([yes]); VEC_CFLAGS="$VEC_CFLAGS $fr_flag"],
        [AC_MSG_RESULT([no])])
      CFLAGS=$fr_save_CFLAGS
    done
  ])
  AC_SUBST([VEC_CFLAGS])
])
