# tests/cli.mk — the fedrec program end to end.
TESTS += tests/test_cli.sh
EXTRA_DIST += tests/test_cli.sh
# Crash safety: SIGKILL at random moments, resume, the same result.
TESTS += tests/test_crash.sh
EXTRA_DIST += tests/test_crash.sh
# Every row of doc/BAD-INPUT.md.
TESTS += tests/test_bad_input.sh
EXTRA_DIST += tests/test_bad_input.sh
# Rows marked train / validation / test, converted and trained as marked.
TESTS += tests/test_split_marks.sh
EXTRA_DIST += tests/test_split_marks.sh
# Keys a job does not read refused (train and config --check alike),
# config --keys --job, the shipped configurations, files checked up front,
# every job kind in --help, README and fedrec.1.
TESTS += tests/test_keys.sh
EXTRA_DIST += tests/test_keys.sh
