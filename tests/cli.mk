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
# What a run tells scripts and people: the --summary file and JSON-lines
# reports, the progress line on a terminal, and Ctrl-C's clean stop.
TESTS += tests/test_summary.sh tests/test_progress.sh tests/test_interrupt.sh
EXTRA_DIST += tests/test_summary.sh tests/test_progress.sh tests/test_interrupt.sh
