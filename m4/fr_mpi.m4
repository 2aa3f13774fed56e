# fr_mpi.m4 — FR_CHECK_MPI: optional MPI support (federated rounds run over
# several ranks). --with-mpi=no (the default) leaves MPI out entirely, yes
# stops with the Debian package names when no usable MPI is found, auto uses
# it when found. Looked for, in order: MPI_CFLAGS/MPI_LIBS given by the
# user; the pkg-config modules ompi-c (Open MPI) then mpich; the compiler
# wrapper $MPICC or mpicc (Open MPI's --showme:compile/--showme:link, then
# MPICH's -compile_info/-link_info). The first set of flags with which a
# program calling MPI_Init/MPI_Finalize links is used.
# Defines FR_HAVE_MPI, substitutes MPI_CFLAGS, MPI_LIBS and MPIEXEC (the
# launcher, empty when none), sets the FR_MPI conditional and
# fr_mpi_summary.

# _FR_MPI_TRY(DESCRIPTION): when no MPI is chosen yet, checks that a program
# calling MPI_Init/MPI_Finalize links with $MPI_CFLAGS and $MPI_LIBS; if so
# the MPI is chosen (fr_have_mpi=yes, fr_mpi_via=DESCRIPTION).
m4_define([_FR_MPI_TRY], [
  AS_IF([test "x$fr_have_mpi" != xyes], [
    AC_MSG_CHECKING([whether an MPI program links with $1])
    fr_save_CFLAGS=$CFLAGS; fr_save_LIBS=$LIBS
    CFLAGS="$CFLAGS $MPI_CFLAGS"; LIBS="$MPI_LIBS $LIBS"
    AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <mpi.h>]],
        [[int rank = -1;
  if (MPI_Init(0, 0) != MPI_SUCCESS) return 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Finalize();
  return rank < 0;]])],
      [fr_have_mpi=yes; fr_mpi_via="$1"],
      [fr_mpi_failed="$fr_mpi_failed; $1 did not link"])
    CFLAGS=$fr_save_CFLAGS; LIBS=$fr_save_LIBS
    AC_MSG_RESULT([$fr_have_mpi])
  ])
])

# _FR_MPI_IMPL(MACRO, NAME): fr_mpi_impl=NAME when <mpi.h> defines MACRO
# (and no earlier probe matched).
m4_define([_FR_MPI_IMPL], [
  AS_IF([test -z "$fr_mpi_impl"], [
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[#include <mpi.h>
#ifndef $1
# error not $2
#endif]], [])], [fr_mpi_impl="$2"])
  ])
])

AC_DEFUN([FR_CHECK_MPI], [
  AC_REQUIRE([PKG_PROG_PKG_CONFIG])
  AC_ARG_WITH([mpi],
    [AS_HELP_STRING([--with-mpi@<:@=yes|no|auto@:>@],
      [build with MPI for multi-rank federated training (Open MPI or MPICH);
       default no])],
    [], [with_mpi=no])
  AS_CASE([$with_mpi], [yes|no|auto], [],
    [AC_MSG_ERROR([--with-mpi=$with_mpi: expected yes, no or auto])])
  AC_ARG_VAR([MPICC], [MPI C compiler wrapper whose flags are used when pkg-config finds no MPI (default: mpicc)])
  AC_ARG_VAR([MPI_CFLAGS], [C compiler flags for MPI, overriding the detection (with --with-mpi)])
  AC_ARG_VAR([MPI_LIBS], [linker flags for MPI, overriding the detection (with --with-mpi)])
  AC_ARG_VAR([MPIEXEC], [MPI launcher used by the tests (default: mpiexec or mpirun)])

  fr_have_mpi=no
  fr_mpi_summary=no
  fr_mpi_impl=
  fr_mpi_via=
  fr_mpi_failed=
  AS_IF([test "x$with_mpi" = xno], [
    dnl Exactly as without MPI support: nothing looked for, nothing added.
    MPI_CFLAGS=; MPI_LIBS=; MPIEXEC=
  ], [
    dnl 1. Flags given by the user.
    AS_IF([test -n "$MPI_CFLAGS$MPI_LIBS"], [
      _FR_MPI_TRY([MPI_CFLAGS/MPI_LIBS as given])
      AS_IF([test "x$fr_have_mpi" != xyes],
        [AC_MSG_ERROR([--with-mpi=$with_mpi: a program calling MPI_Init does not link with the given MPI_CFLAGS ($MPI_CFLAGS) and MPI_LIBS ($MPI_LIBS); see config.log])])
    ])

    dnl 2. pkg-config: Open MPI's ompi-c, then MPICH's mpich.
    AS_IF([test "x$fr_have_mpi" != xyes && test -z "$PKG_CONFIG"],
      [fr_mpi_failed="$fr_mpi_failed; no pkg-config"])
    AS_IF([test "x$fr_have_mpi" != xyes && test -n "$PKG_CONFIG"], [
      for fr_mpi_pc in ompi-c mpich; do
        AC_MSG_CHECKING([for the pkg-config module $fr_mpi_pc])
        AS_IF([$PKG_CONFIG --exists "$fr_mpi_pc" 2>&AS_MESSAGE_LOG_FD], [
          AC_MSG_RESULT([yes])
          MPI_CFLAGS=`$PKG_CONFIG --cflags "$fr_mpi_pc" 2>/dev/null`
          MPI_LIBS=`$PKG_CONFIG --libs "$fr_mpi_pc" 2>/dev/null`
          _FR_MPI_TRY([pkg-config $fr_mpi_pc])
        ], [AC_MSG_RESULT([no])
            fr_mpi_failed="$fr_mpi_failed; no pkg-config module $fr_mpi_pc"])
        AS_IF([test "x$fr_have_mpi" = xyes], [break])
      done
    ])

    dnl 3. The compiler wrapper's own idea of its flags.
    AS_IF([test "x$fr_have_mpi" != xyes], [
      AS_IF([test -n "$MPICC"],
        [AC_MSG_CHECKING([for the MPI compiler wrapper])
         AC_MSG_RESULT([$MPICC (from MPICC)])],
        [AC_PATH_PROG([MPICC], [mpicc])])
      AS_IF([test -n "$MPICC"], [
        AC_MSG_CHECKING([for the flags $MPICC uses])
        AS_IF([fr_mpi_c=`$MPICC --showme:compile 2>&AS_MESSAGE_LOG_FD` &&
               fr_mpi_l=`$MPICC --showme:link 2>&AS_MESSAGE_LOG_FD`], [
          dnl Open MPI: prints the flags alone.
          MPI_CFLAGS=$fr_mpi_c; MPI_LIBS=$fr_mpi_l
          AC_MSG_RESULT([--showme:compile, --showme:link (Open MPI)])
          _FR_MPI_TRY([$MPICC --showme flags])
        ], [fr_mpi_c=`$MPICC -compile_info 2>&AS_MESSAGE_LOG_FD` &&
            fr_mpi_l=`$MPICC -link_info 2>&AS_MESSAGE_LOG_FD`], [
          dnl MPICH: prints the whole command; drop the compiler's name,
          dnl and the -I flags from the link line (they are in MPI_CFLAGS).
          MPI_CFLAGS=`AS_ECHO(["$fr_mpi_c"]) | sed 's/^[[ 	]]*[[^ 	]]*//; s/^[[ 	]]*//'`
          MPI_LIBS=
          for fr_mpi_w in `AS_ECHO(["$fr_mpi_l"]) | sed 's/^[[ 	]]*[[^ 	]]*//'`; do
            AS_CASE([$fr_mpi_w], [-I*], [],
              [MPI_LIBS="${MPI_LIBS:+$MPI_LIBS }$fr_mpi_w"])
          done
          AC_MSG_RESULT([-compile_info, -link_info (MPICH)])
          _FR_MPI_TRY([$MPICC -compile_info/-link_info flags])
        ], [
          AS_IF([test -f "$MPICC" || command -v "$MPICC" >/dev/null 2>&1], [
            AC_MSG_RESULT([none (neither --showme nor -compile_info works)])
            fr_mpi_failed="$fr_mpi_failed; $MPICC is neither an Open MPI nor an MPICH wrapper"
          ], [
            AC_MSG_RESULT([none ($MPICC cannot be run)])
            fr_mpi_failed="$fr_mpi_failed; MPICC=$MPICC cannot be run"
          ])
        ])
      ], [fr_mpi_failed="$fr_mpi_failed; no mpicc in PATH"])
    ])

    AS_IF([test "x$fr_have_mpi" = xyes], [
      fr_save_CFLAGS=$CFLAGS; CFLAGS="$CFLAGS $MPI_CFLAGS"
      AC_MSG_CHECKING([which MPI implementation <mpi.h> belongs to])
      _FR_MPI_IMPL([OPEN_MPI], [Open MPI])
      _FR_MPI_IMPL([I_MPI_VERSION], [Intel MPI])
      _FR_MPI_IMPL([MVAPICH2_VERSION], [MVAPICH2])
      _FR_MPI_IMPL([MPICH_VERSION], [MPICH])
      CFLAGS=$fr_save_CFLAGS
      AS_IF([test -z "$fr_mpi_impl"], [fr_mpi_impl="MPI of unknown make"])
      AC_MSG_RESULT([$fr_mpi_impl])

      dnl The launcher: the implementation's own name first, so that a
      dnl system whose mpiexec alternative points at another MPI still
      dnl starts the ranks with the right one.
      AS_CASE([$fr_mpi_impl],
        [Open?MPI], [fr_mpi_launchers="mpiexec.openmpi mpirun.openmpi"],
        [MPICH], [fr_mpi_launchers="mpiexec.mpich mpiexec.hydra mpirun.mpich"],
        [fr_mpi_launchers=])
      AC_PATH_PROGS([MPIEXEC], [$fr_mpi_launchers mpiexec mpirun])
      AS_IF([test -z "$MPIEXEC"], [
        AC_MSG_WARN([MPI found ($fr_mpi_impl) but no launcher (mpiexec or mpirun) in PATH: MPIEXEC is left empty, so tests cannot start several ranks. Set MPIEXEC, or on Debian/Ubuntu: apt-get install openmpi-bin (or mpich)])
        MPIEXEC=
        fr_mpi_summary="yes ($fr_mpi_impl via $fr_mpi_via; no launcher found: MPIEXEC empty)"
      ], [
        fr_mpi_summary="yes ($fr_mpi_impl via $fr_mpi_via; launcher $MPIEXEC)"
      ])
    ], [
      MPI_CFLAGS=; MPI_LIBS=; MPIEXEC=
      fr_mpi_failed=`AS_ECHO(["$fr_mpi_failed"]) | sed 's/^; //'`
      AS_IF([test "x$with_mpi" = xyes],
        [AC_MSG_ERROR([--with-mpi: no usable MPI found ($fr_mpi_failed; see config.log). On Debian/Ubuntu: apt-get install libopenmpi-dev openmpi-bin (or libmpich-dev mpich). Elsewhere set MPICC to the MPI compiler wrapper, or MPI_CFLAGS and MPI_LIBS; or configure without --with-mpi])])
      AC_MSG_WARN([--with-mpi=auto: no usable MPI found ($fr_mpi_failed); building without MPI])
      fr_mpi_summary="no (MPI not found: apt-get install libopenmpi-dev openmpi-bin)"
    ])
  ])

  AS_IF([test "x$fr_have_mpi" = xyes],
    [AC_DEFINE([FR_HAVE_MPI], [1], [Build with MPI (multi-rank federated training)])])
  AM_CONDITIONAL([FR_MPI], [test "x$fr_have_mpi" = xyes])
  AC_SUBST([MPI_CFLAGS])
  AC_SUBST([MPI_LIBS])
  AC_SUBST([MPIEXEC])
])
