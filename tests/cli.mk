# tests/cli.mk — the fedrec program end to end.
TESTS += tests/test_cli.sh
EXTRA_DIST += tests/test_cli.sh
# Crash safety: SIGKILL at random moments, resume, the same result
# (the rating jobs; central mtrec).
TESTS += tests/test_crash.sh tests/test_crash_mtrec.sh
EXTRA_DIST += tests/test_crash.sh tests/test_crash_mtrec.sh
# The same for the msmt job: killed in every checkpoint write and at
# random moments, resumed, the same report, summary and saved model.
TESTS += tests/test_crash_msmt.sh
EXTRA_DIST += tests/test_crash_msmt.sh
# And for fedmsmt: every client's model and optimiser, killed in every
# checkpoint write and at random moments, resumed, the same outcome.
TESTS += tests/test_crash_fedmsmt.sh
EXTRA_DIST += tests/test_crash_fedmsmt.sh
# Every row of doc/BAD-INPUT.md.
TESTS += tests/test_bad_input.sh
EXTRA_DIST += tests/test_bad_input.sh
# Rows marked train / validation / test, converted and trained as marked.
TESTS += tests/test_split_marks.sh
EXTRA_DIST += tests/test_split_marks.sh
# fedrec plot: every job kind's reports, rendered by rsvg-convert.
TESTS += tests/test_plot.sh
EXTRA_DIST += tests/test_plot.sh tests/check_svg.py
# fedrec compare: summaries side by side, damaged ones refused.
TESTS += tests/test_compare.sh
EXTRA_DIST += tests/test_compare.sh
# fedrec tune: grid and random searches, resumable, chosen on validation.
TESTS += tests/test_tune.sh
EXTRA_DIST += tests/test_tune.sh
# The ctr demo's validation rows: disjoint parts, the best validation epoch kept.
TESTS += tests/test_ctr_valid.sh
EXTRA_DIST += tests/test_ctr_valid.sh
# What a run tells scripts and people: the --summary file and JSON-lines
# reports, the progress line on a terminal, and Ctrl-C's clean stop.
TESTS += tests/test_summary.sh tests/test_progress.sh tests/test_interrupt.sh tests/test_resume_model.sh
EXTRA_DIST += tests/test_summary.sh tests/test_progress.sh tests/test_interrupt.sh tests/test_resume_model.sh
# Saved models: eval reproduces training's figures, recommend and export
# checked against a brute force over the exported files.
TESTS += tests/test_saved_models.sh
EXTRA_DIST += tests/test_saved_models.sh tests/saved/brute_force.py tests/saved/check_export.py
# Multi-scenario models (msmt, fedmsmt) saved, evaluated and exported.
TESTS += tests/test_saved_msmt.sh
EXTRA_DIST += tests/test_saved_msmt.sh tests/check_export_msmt.py
# fedrec recommend and export of msmt and fedmsmt models in the original
# ids, checked against a brute force in numpy over the exported arrays.
TESTS += tests/test_recommend_msmt.sh
EXTRA_DIST += tests/test_recommend_msmt.sh tests/check_recommend_msmt.py
# Keys a job does not read refused (train and config --check alike),
# config --keys --job, the shipped configurations, files checked up front,
# every job kind in --help, README and fedrec.1.
TESTS += tests/test_keys.sh
EXTRA_DIST += tests/test_keys.sh
# Item categories of the mtrec job: several per item, from a file or a
# rating column, the relation delimiter following data.delimiter.
TESTS += tests/test_mtrec_relations.sh
EXTRA_DIST += tests/test_mtrec_relations.sh
# train.eval_every for every job, and the warning on a model that does not learn.
TESTS += tests/test_eval_every.sh
EXTRA_DIST += tests/test_eval_every.sh
