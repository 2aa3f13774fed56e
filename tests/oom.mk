# tests/oom.mk — the out-of-memory sweep (tests/test_oom.sh): the fedrec
# program once more, linked against the library's static archive (libtool's
# -static) with every allocating call fedrec makes wrapped by the failure
# injector tests/oom/fail_alloc.c (-Wl,--wrap; why not LD_PRELOAD: there).
FR_OOM_WRAP = -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc -Wl,--wrap=aligned_alloc \
	-Wl,--wrap=posix_memalign -Wl,--wrap=strdup -Wl,--wrap=strndup -Wl,--wrap=getline \
	-Wl,--wrap=getdelim -Wl,--wrap=open_memstream
check_PROGRAMS += tests/fedrec-oom
tests_fedrec_oom_SOURCES = $(fedrec_SOURCES) tests/oom/fail_alloc.c
tests_fedrec_oom_LDADD = libfedrec.la $(PTHREAD_LIBS) -lm
tests_fedrec_oom_LDFLAGS = -static $(AM_LDFLAGS) $(FR_OOM_WRAP)
TESTS += tests/test_oom.sh
EXTRA_DIST += tests/test_oom.sh
