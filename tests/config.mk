# tests/config.mk — the typed configuration and its reference doc.
check_PROGRAMS += tests/test_config
tests_test_config_SOURCES = tests/test_config.c tests/testutil.h
tests_test_config_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_config
# Sample files the test reads from $(top_srcdir): a good one, and one per
# kind of error.
EXTRA_DIST += tests/config/good.ini \
	tests/config/bad_bool.ini tests/config/bad_empty.ini \
	tests/config/bad_enum.ini tests/config/bad_float.ini \
	tests/config/bad_int.ini tests/config/bad_list.ini \
	tests/config/bad_list_range.ini tests/config/bad_overflow.ini \
	tests/config/bad_range.ini tests/config/bad_seed.ini \
	tests/config/duplicate.ini tests/config/no_section.ini \
	tests/config/syntax.ini tests/config/unknown_key.ini \
	tests/config/unknown_section.ini
# Which jobs read each key: every key has a rule, the rules hold for every
# job kind, unread keys are refused, conf/*.ini pass.
check_PROGRAMS += tests/test_config_reads
tests_test_config_reads_SOURCES = tests/test_config_reads.c tests/testutil.h
tests_test_config_reads_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_config_reads
