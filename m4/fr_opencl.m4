# fr_opencl.m4 — FR_CHECK_OPENCL: the OpenCL backend, built when the ICD
# loader and CLBlast are found through pkg-config (OpenCL, clblast).
# --enable-opencl=auto (default) builds it when both are there, yes stops
# with the Debian package names when one is missing, no never builds it.
# Defines HAVE_FR_OPENCL and CL_TARGET_OPENCL_VERSION (Debian's CLBlast
# header does not), substitutes OPENCL_CFLAGS/LIBS, sets fr_opencl_summary.
AC_DEFUN([FR_CHECK_OPENCL], [
  AC_ARG_ENABLE([opencl],
    [AS_HELP_STRING([--enable-opencl=auto|yes|no],
      [build the OpenCL backend (CLBlast + kernels in cl/); default auto])],
    [], [enable_opencl=auto])
  AS_CASE([$enable_opencl], [auto|yes|no], [],
    [AC_MSG_ERROR([--enable-opencl=$enable_opencl: expected auto, yes or no])])
  fr_have_opencl=no
  fr_opencl_summary="no (--enable-opencl=no)"
  AS_IF([test "x$enable_opencl" != xno], [
    PKG_CHECK_MODULES([OPENCL], [OpenCL clblast], [fr_have_opencl=yes], [
      AS_IF([test "x$enable_opencl" = xyes],
        [AC_MSG_ERROR([--enable-opencl=yes: the OpenCL ICD loader or CLBlast was not found through pkg-config ($OPENCL_PKG_ERRORS). On Debian/Ubuntu: apt-get install ocl-icd-opencl-dev opencl-headers libclblast-dev])])
      fr_opencl_summary="no (OpenCL ICD loader or CLBlast not found: apt-get install ocl-icd-opencl-dev libclblast-dev)"])
  ])
  AS_IF([test "x$fr_have_opencl" = xyes], [
    AC_DEFINE([HAVE_FR_OPENCL], [1], [Build the OpenCL backend])
    AC_DEFINE([CL_TARGET_OPENCL_VERSION], [120], [Target OpenCL 1.2 so old and integrated devices work])
    fr_opencl_summary="yes (CLBlast; devices are found at run time: 'fedrec devices')"])
  AM_CONDITIONAL([HAVE_FR_OPENCL], [test "x$fr_have_opencl" = xyes])
  dnl Static users of libfedrec need the OpenCL libraries too.
  FR_PC_REQUIRES_PRIVATE="inih"
  AS_IF([test "x$fr_have_opencl" = xyes], [FR_PC_REQUIRES_PRIVATE="inih OpenCL clblast"])
  AC_SUBST([FR_PC_REQUIRES_PRIVATE])
])
