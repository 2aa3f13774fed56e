/* saved_model.h — what `fedrec eval`, `recommend` and `export` do with a
 * saved model, by the job kind that trained it: one row per group of kinds
 * in saved_model.c's table, its functions in saved_<kind>.c. A kind whose
 * row has no recommend (or export) function is refused by that command with
 * a message naming the kind. The commands (cmd_eval.c, cmd_recommend.c,
 * cmd_export.c) parse their options, open the model (fr_saved_open) and
 * call the row. */
#ifndef FR_CLI_SAVED_MODEL_H
#define FR_CLI_SAVED_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "cli/export_files.h"
#include "cli/options.h"
#include "fedrec/config.h"
#include "fedrec/model_file.h"

/* A model file opened for a command: the file's arrays, its stored
 * configuration with the command's --set overrides applied (cfg), and the
 * stored one as it was (stored). */
typedef struct fr_saved_ctx {
    const char *command;      /* "eval", "recommend", "export" */
    const char *path;
    const char *kind;         /* job.kind of the stored configuration */
    fr_model_file *file;      /* NULL for a parameter-set file read otherwise (ctr) */
    fr_config *cfg, *stored;
    const fr_cli_sets *sets;
} fr_saved_ctx;

enum { FR_OUT_TEXT = 0, FR_OUT_CSV, FR_OUT_JSON };

/* `fedrec recommend`: the users asked for (original ids; line numbers of
 * the users file, 0 for --user), how many items each, the format. */
typedef struct fr_recommend_request {
    const char *const *users;
    const size_t *lines;
    size_t n_users;
    const char *users_file;   /* NULL: --user */
    size_t top;
    int format;
    FILE *out;
    /* msmt and fedmsmt: the task to rank by (NULL: the first) and the
     * scenario (NULL: the user's own). */
    const char *task, *scenario;
} fr_recommend_request;

/* One user's list, printed by fr_recommend_print. */
typedef struct fr_recommendation {
    const char *user;
    const char *const *items;  /* original ids, best first */
    const float *scores;
    size_t n;                  /* <= top */
    size_t candidates;         /* items ranked (not interacted with) */
} fr_recommendation;

typedef struct fr_saved_kind {
    const char *kinds;        /* job.kind values, '|' separated */
    int (*eval)(const fr_saved_ctx *ctx, const char *summary);
    int (*recommend)(const fr_saved_ctx *ctx, const fr_recommend_request *rq);
    int (*export_files)(const fr_saved_ctx *ctx, fr_export *e);
    int arrays;               /* the file is read with fr_model_open */
    /* Without recommend (may be NULL): why, and what to do instead, for
     * recommend's refusal. */
    const char *no_recommend;
} fr_saved_kind;

/* The row for job.kind `kind`, or NULL. */
const fr_saved_kind *fr_saved_kind_of(const char *kind);

/* Open the model for command: read the stored configuration, apply the
 * --set overrides, find the row (exit code and message on failure:
 * FR_EXIT_OK on success). */
int fr_saved_open(const char *command, const char *path, const fr_cli_sets *sets, fr_saved_ctx *ctx,
                  const fr_saved_kind **row);
void fr_saved_close(fr_saved_ctx *ctx);

/* Refuse (FR_ERR_CONFIG) any --set whose key is not in `allowed` ("a.b"
 * exact, or "a.*" a whole section): the other keys define the model. */
fr_status fr_saved_allow_sets(const fr_saved_ctx *ctx, const char *const *allowed, size_t n_allowed);
/* Whether a --set changed key (exact) or any key of section ("data.*") from
 * the stored value. */
int fr_saved_set_changes(const fr_saved_ctx *ctx, const char *key);

/* Printing recommend's lists: begin (header), one per user, end. */
void fr_recommend_begin(const fr_recommend_request *rq, const fr_saved_ctx *ctx, const char *about);
void fr_recommend_print(const fr_recommend_request *rq, const fr_recommendation *r, size_t index);
/* User index's list from every item's score: the top rq->top outside the
 * sorted seen list, named by item_ids, printed. top, top_scores and
 * top_ids are the caller's scratch (room for rq->top each). */
fr_status fr_recommend_scored(const fr_recommend_request *rq, size_t index, const float *scores, size_t n_items,
                              const int32_t *seen, size_t n_seen, const char *const *item_ids, int32_t *top,
                              float *top_scores, const char **top_ids);
void fr_recommend_end(const fr_recommend_request *rq);

/* A user's dense index by original id (binary search over names sorted
 * by fr_saved_id_index), or -1. */
typedef struct fr_id_index {
    const char *const *names;
    size_t n;
    uint32_t *order;   /* indices sorted by name */
} fr_id_index;

fr_status fr_id_index_build(fr_id_index *x, const char *const *names, size_t n);
long fr_id_index_find(const fr_id_index *x, const char *name);
void fr_id_index_free(fr_id_index *x);
/* Report that user rq->users[k] is not in the model ("FILE:LINE: user 'X'
 * is not in MODEL (U users, ids like A, B, C)"); the exit code: 2 for
 * --user, 4 for a users file. */
int fr_saved_unknown_user(const fr_saved_ctx *ctx, const fr_recommend_request *rq, size_t k,
                          const fr_id_index *users);


/* ---- writing, called by the jobs ------------------------------------------ */
#include "fedrec/pfedrec.h"
#include "fedrec/ratings.h"
/* Refuse, before training, a model path whose folder cannot be written:
 * the error names the key (or option) and the folder. */
fr_status fr_saved_check_writable(const char *key, const char *path);
/* names[0 .. n) as one block of NUL-terminated strings (*bytes long), the
 * form id lists take in a model file; NULL when out of memory. */
char *fr_saved_join_names(char *const *names, size_t n, size_t *bytes);
/* start[0 .. n) as int64, the file's type for offsets; NULL when out of
 * memory. */
int64_t *fr_saved_offsets64(const size_t *start, size_t n);
/* The rating jobs' model m (the round it comes from), with the split and
 * the original ids, the effective configuration and its fingerprint
 * (saved_rating.c). from_last: output.model_from = last. */
fr_status fr_saved_rating_write(const char *path, const fr_config *cfg, const fr_pfedrec_model *m,
                                const fr_loo_split *split, char *const *user_names, char *const *item_names,
                                unsigned rounds_run, int from_last);

/* The mtrec job's model: table (users' rows, then items'), dim wide, of
 * the epoch (or round) it comes from, with the data's per-user lists and
 * original ids (saved_mtrec.c). */
#include "fedrec/mtrec.h"
fr_status fr_saved_mtrec_write(const char *path, const fr_config *cfg, const fr_mtr_data *d, const float *table,
                               size_t dim, unsigned epoch, unsigned epochs_run, int from_last);

/* ---- the rows' functions (saved_<kind>.c) ------------------------------- */
int fr_saved_ctr_eval(const fr_saved_ctx *ctx, const char *summary);
int fr_saved_ctr_export(const fr_saved_ctx *ctx, fr_export *e);
int fr_saved_rating_eval(const fr_saved_ctx *ctx, const char *summary);
int fr_saved_rating_recommend(const fr_saved_ctx *ctx, const fr_recommend_request *rq);
int fr_saved_rating_export(const fr_saved_ctx *ctx, fr_export *e);
int fr_saved_mtrec_eval(const fr_saved_ctx *ctx, const char *summary);
int fr_saved_mtrec_recommend(const fr_saved_ctx *ctx, const fr_recommend_request *rq);
int fr_saved_mtrec_export(const fr_saved_ctx *ctx, fr_export *e);
int fr_saved_msmt_eval(const fr_saved_ctx *ctx, const char *summary); /* msmt and fedmsmt (saved_msmt.c) */
int fr_saved_msmt_export(const fr_saved_ctx *ctx, fr_export *e);      /* (export_msmt.c) */
int fr_saved_msmt_recommend(const fr_saved_ctx *ctx, const fr_recommend_request *rq); /* (recommend_msmt.c) */

#endif
