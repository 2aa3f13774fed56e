# fr_c11.m4 — FR_CHECK_C11: make sure $CC compiles C11, the language fedrec is
# written in. Autoconf 2.70 and later already ask AC_PROG_CC for C11; 2.69
# does not, so the check is made here for both: a program using C11 features
# (_Static_assert, _Alignof, anonymous unions, __STDC_VERSION__ >= 201112L)
# must compile as is, or with -std=gnu11 then -std=c11 added to CC.
# Stops with an error naming the compilers that work when none does.
AC_DEFUN([FR_CHECK_C11], [
  AC_REQUIRE([AC_PROG_CC])
  AC_CACHE_CHECK([for the option $CC needs to compile C11], [fr_cv_c11_option], [
    fr_cv_c11_option=unsupported
    fr_save_CC=$CC
    for fr_c11_opt in "" -std=gnu11 -std=c11; do
      CC="$fr_save_CC${fr_c11_opt:+ $fr_c11_opt}"
      AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[
#if !defined __STDC_VERSION__ || __STDC_VERSION__ < 201112L
# error not C11
#endif
#include <stdalign.h>
_Static_assert(sizeof(int) >= 2, "C11 static assertions");
struct fr_c11_probe { int kind; union { int i; float f; }; };]],
          [[struct fr_c11_probe p; p.i = (int)alignof(double); return p.i < 1;]])],
        [fr_cv_c11_option=${fr_c11_opt:-none needed}])
      CC=$fr_save_CC
      AS_IF([test "x$fr_cv_c11_option" != xunsupported], [break])
    done
  ])
  AS_CASE([$fr_cv_c11_option],
    [unsupported], [AC_MSG_ERROR([$CC does not compile C11, with or without -std=gnu11 or -std=c11: fedrec needs a C11 compiler (gcc >= 5 or clang >= 3.3)])],
    ["none needed"], [],
    [CC="$CC $fr_cv_c11_option"])
])
