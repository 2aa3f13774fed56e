# tests/cli.mk — the fedrec program end to end.
TESTS += tests/test_cli.sh
EXTRA_DIST += tests/test_cli.sh
