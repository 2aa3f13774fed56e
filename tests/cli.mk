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
# Saved models: eval reproduces training's figures, recommend and export
# checked against a brute force over the exported files.
TESTS += tests/test_saved_models.sh
EXTRA_DIST += tests/test_saved_models.sh tests/saved/brute_force.py tests/saved/check_export.py
# Multi-scenario models (msmt, fedmsmt) saved, evaluated and exported.
TESTS += tests/test_saved_msmt.sh
EXTRA_DIST += tests/test_saved_msmt.sh tests/check_export_msmt.py
