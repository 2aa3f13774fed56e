# tests/mtl.mk — feature tables and multi-scenario multi-task models.
check_PROGRAMS += tests/test_msmt
tests_test_msmt_SOURCES = tests/test_msmt.c tests/testutil.h
tests_test_msmt_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_msmt
# numpy's legacy generator and pandas' merge order and sample split.
check_PROGRAMS += tests/test_pandas_compat
tests_test_pandas_compat_SOURCES = tests/test_pandas_compat.c tests/testutil.h
tests_test_pandas_compat_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_pandas_compat
# The movielens-msmt split against the AutoIFS authors' (skips without the data).
check_PROGRAMS += tests/test_movielens_split
tests_test_movielens_split_SOURCES = tests/test_movielens_split.c tests/testutil.h
tests_test_movielens_split_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_movielens_split
# Rows marked train / validation / test when converting text files.
check_PROGRAMS += tests/test_table_marks
tests_test_table_marks_SOURCES = tests/test_table_marks.c tests/testutil.h
tests_test_table_marks_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_table_marks
# Table fields: roles, names and values through a table file; user and
# item sides learnt from the rows.
check_PROGRAMS += tests/test_table_fields
tests_test_table_fields_SOURCES = tests/test_table_fields.c tests/testutil.h
tests_test_table_fields_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_table_fields
# The msmt trainer's checkpoints: a resumed run ends as the uninterrupted
# one, bit for bit; bad checkpoint files refused, nothing changed.
check_PROGRAMS += tests/test_msmt_checkpoint
tests_test_msmt_checkpoint_SOURCES = tests/test_msmt_checkpoint.c tests/testutil.h
tests_test_msmt_checkpoint_LDADD = $(FR_TEST_LIBS)
TESTS += tests/test_msmt_checkpoint
