# tests/fuzz.mk — the readers' fuzz targets (tests/fuzz, doc/FUZZING.md).
# Every build compiles them: without --enable-fuzzing they link a driver
# that runs given inputs once, and tests/test_fuzz_inputs.sh runs each on
# its seeds and on every input fuzzing ever found (tests/fuzz/regress).
FR_FUZZ_TARGETS = tests/fuzz/fuzz_movielens tests/fuzz/fuzz_delimited tests/fuzz/fuzz_aliexpress \
	tests/fuzz/fuzz_relations tests/fuzz/fuzz_table_file tests/fuzz/fuzz_config tests/fuzz/fuzz_checkpoint \
	tests/fuzz/fuzz_split
check_PROGRAMS += $(FR_FUZZ_TARGETS)
FR_FUZZ_COMMON = tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h tests/fuzz/fuzz_driver.c
FR_FUZZ_LINK = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

tests_fuzz_fuzz_movielens_SOURCES = tests/fuzz/fuzz_movielens.c $(FR_FUZZ_COMMON) \
	tests/fuzz/ratings_check.c tests/fuzz/ratings_check.h tests/fuzz/table_check.c tests/fuzz/table_check.h
tests_fuzz_fuzz_movielens_LDADD = $(FR_TEST_LIBS)
tests_fuzz_fuzz_movielens_LDFLAGS = $(FR_FUZZ_LINK)
tests_fuzz_fuzz_delimited_SOURCES = tests/fuzz/fuzz_delimited.c $(FR_FUZZ_COMMON) \
	tests/fuzz/ratings_check.c tests/fuzz/ratings_check.h
tests_fuzz_fuzz_delimited_LDADD = $(FR_TEST_LIBS)
tests_fuzz_fuzz_delimited_LDFLAGS = $(FR_FUZZ_LINK)
tests_fuzz_fuzz_aliexpress_SOURCES = tests/fuzz/fuzz_aliexpress.c $(FR_FUZZ_COMMON) \
	tests/fuzz/table_check.c tests/fuzz/table_check.h
tests_fuzz_fuzz_aliexpress_LDADD = $(FR_TEST_LIBS)
tests_fuzz_fuzz_aliexpress_LDFLAGS = $(FR_FUZZ_LINK)
tests_fuzz_fuzz_relations_SOURCES = tests/fuzz/fuzz_relations.c $(FR_FUZZ_COMMON)
tests_fuzz_fuzz_relations_LDADD = $(FR_TEST_LIBS)
tests_fuzz_fuzz_relations_LDFLAGS = $(FR_FUZZ_LINK)
tests_fuzz_fuzz_table_file_SOURCES = tests/fuzz/fuzz_table_file.c $(FR_FUZZ_COMMON) \
	tests/fuzz/table_check.c tests/fuzz/table_check.h
tests_fuzz_fuzz_table_file_LDADD = $(FR_TEST_LIBS)
tests_fuzz_fuzz_table_file_LDFLAGS = $(FR_FUZZ_LINK)
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c $(FR_FUZZ_COMMON)
tests_fuzz_fuzz_config_LDADD = $(FR_TEST_LIBS)
tests_fuzz_fuzz_config_LDFLAGS = $(FR_FUZZ_LINK)
tests_fuzz_fuzz_checkpoint_SOURCES = tests/fuzz/fuzz_checkpoint.c $(FR_FUZZ_COMMON)
tests_fuzz_fuzz_checkpoint_LDADD = $(FR_TEST_LIBS)
tests_fuzz_fuzz_checkpoint_LDFLAGS = $(FR_FUZZ_LINK)
tests_fuzz_fuzz_split_SOURCES = tests/fuzz/fuzz_split.c $(FR_FUZZ_COMMON)
tests_fuzz_fuzz_split_LDADD = $(FR_TEST_LIBS)
tests_fuzz_fuzz_split_LDFLAGS = $(FR_FUZZ_LINK)

TESTS += tests/test_fuzz_inputs.sh
EXTRA_DIST += tests/test_fuzz_inputs.sh tests/fuzz/fuzz.sh tests/fuzz/seeds tests/fuzz/regress
