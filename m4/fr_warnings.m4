# fr_warnings.m4 — FR_WARNING_FLAGS: the warning flags every file is built
# with (-Wall -Wextra and a few that catch real bugs), kept to those the
# compiler accepts. --enable-werror turns them into errors.
AC_DEFUN([FR_WARNING_FLAGS], [
  AC_ARG_ENABLE([werror],
    [AS_HELP_STRING([--enable-werror], [treat compiler warnings as errors])],
    [], [enable_werror=no])
  WARN_CFLAGS=
  for fr_flag in -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
                 -Wpointer-arith -Wformat=2 -Wvla; do
    AC_MSG_CHECKING([whether $CC accepts $fr_flag])
    fr_save_CFLAGS=$CFLAGS
    CFLAGS="$CFLAGS -Werror $fr_flag"
    dnl A prototyped main: autoconf 2.69's AC_LANG_PROGRAM writes
    dnl 'int main ()', which -Wstrict-prototypes -Werror would reject.
    AC_COMPILE_IFELSE([AC_LANG_SOURCE([[int main(void) { return 0; }]])],
      [AC_MSG_RESULT([yes]); WARN_CFLAGS="$WARN_CFLAGS $fr_flag"],
      [AC_MSG_RESULT([no])])
    CFLAGS=$fr_save_CFLAGS
  done
  AS_IF([test "x$enable_werror" = xyes], [WARN_CFLAGS="$WARN_CFLAGS -Werror"])
  AC_SUBST([WARN_CFLAGS])
])
