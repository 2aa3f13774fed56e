# fr_pthread.m4 — FR_CHECK_PTHREAD: find how to build threaded code.
# Sets PTHREAD_CFLAGS and PTHREAD_LIBS.
AC_DEFUN([FR_CHECK_PTHREAD], [
  AC_MSG_CHECKING([for the -pthread flag])
  fr_save_CFLAGS=$CFLAGS; fr_save_LIBS=$LIBS
  CFLAGS="$CFLAGS -pthread"; LIBS="$LIBS -pthread"
  AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <pthread.h>
static void *run(void *p) { return p; }]],
      [[pthread_t t; pthread_create(&t, 0, run, 0); pthread_join(t, 0);]])],
    [fr_pthread=yes; PTHREAD_CFLAGS=-pthread; PTHREAD_LIBS=-pthread],
    [fr_pthread=no])
  CFLAGS=$fr_save_CFLAGS; LIBS=$fr_save_LIBS
  AC_MSG_RESULT([$fr_pthread])
  AS_IF([test "x$fr_pthread" = xno], [
    AC_SEARCH_LIBS([pthread_create], [pthread], [PTHREAD_CFLAGS=; PTHREAD_LIBS=],
      [AC_MSG_ERROR([POSIX threads are required])])])
  AC_SUBST([PTHREAD_CFLAGS])
  AC_SUBST([PTHREAD_LIBS])
])
