# tests/data.mk — rating readers and the leave-one-out split.
check_PROGRAMS += tests/test_ratings
tests_test_ratings_SOURCES = tests/test_ratings.c tests/testutil.h
tests_test_ratings_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_ratings

check_PROGRAMS += tests/test_split_file
tests_test_split_file_SOURCES = tests/test_split_file.c tests/testutil.h
tests_test_split_file_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_split_file
