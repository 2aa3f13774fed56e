/* rating_cohort_internal.h — what the cohort trainers share (internal):
 * rating_cohort.c (PFedRec and FedMF, and the pieces every cohort needs:
 * laying out a client's samples and overlay rows as the one-by-one path
 * draws them, its shuffles, device buffers, keeping a client) and
 * rating_cohort_ncf.c (FedNCF: per-client copies of the shared layers,
 * batched GEMMs). */
#ifndef FR_REC_RATING_COHORT_INTERNAL_H
#define FR_REC_RATING_COHORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fedrec/backend.h"
#include "rec/rating.h"
#include "rec/rating_cohort.h"

/* A growable host vector of int32 or float. */
typedef struct ivec {
    int32_t *v;
    size_t n, cap;
} ivec;
typedef struct fvec {
    float *v;
    size_t n, cap;
} fvec;

/* *v holds at least `need` values of `size` bytes (doubling; *cap: what
 * it holds). */
fr_status fr_rc_grow(void **v, size_t *cap, size_t need, size_t size);
fr_status fr_rc_ipush(ivec *a, int32_t x);
fr_status fr_rc_fpush(fvec *a, float x);
/* *v holds exactly n values if it held fewer (for downloads). */
fr_status fr_rc_host_grow(void **v, size_t *cap, size_t n, size_t size, const char *what);

/* One client of a cohort. */
typedef struct cohort_client {
    size_t user;
    size_t orig;                 /* its place in the core's client list (FedNCF reorders) */
    size_t sample_at, n_samples; /* its samples in row/label, in the current epoch's order */
    size_t row_at, n_rows;       /* its overlay rows (cohort-relative) */
    size_t eval_at;              /* its 2 (1 + K) evaluation rows, or SIZE_MAX */
    double loss;
    double t_negatives;
} cohort_client;

/* One step of PFedRec or FedMF: batch k of an epoch over the clients that
 * have it. Offsets into the cohort's int list I and float list F. */
typedef struct cohort_step {
    size_t n;               /* samples */
    size_t n_clients;       /* clients in it (the score step's segments) */
    size_t n_rows;          /* distinct overlay rows (the item step's segments) */
    size_t xi, yi;          /* per sample: client, row of D */
    size_t start1, seg1;    /* client segments: start (n_clients + 1), client */
    size_t start2, seg2;    /* row segments: start (n_rows + 1), row of D */
    size_t ci2, xi2;        /* per sample in row order: its position, its client */
    size_t label, scale;    /* in F: labels, 1 / batch size of its client */
    size_t loss_at;         /* its samples' losses in the loss buffer */
} cohort_step;

/* One step of FedNCF: batch k of an epoch over the first n_active clients
 * (a FedNCF cohort is ordered by sample count, so the clients that have a
 * batch k come first), each client's batch padded to R rows, the largest
 * batch k of them. */
typedef struct ncf_step {
    size_t n_active;        /* clients in it */
    size_t R;               /* rows per client */
    size_t n_real;          /* samples (rows that are not padding) */
    size_t n_rows;          /* distinct overlay rows */
    size_t xu, ye;          /* per padded row: client, row of D (padding: the client's first) */
    size_t label, scale;    /* in F, per padded row: label, 1 / batch (padding: 0) */
    size_t cu, start1, seg1;/* the users' step: real rows by client, start (n_active + 1), client */
    size_t xr, start2, seg2;/* the items' step: real rows by row, start (n_rows + 1), row of D */
    size_t loss_at;         /* its padded rows' losses in the loss buffer */
} ncf_step;

/* Device buffers, kept across cohorts and rounds (grown when too small).
 * PFedRec and FedMF: D (table, then overlays), W, B (score functions),
 * G (FedMF's user gradients), Z, DZ, GRAD, JUNK (per sample). FedNCF adds
 * WS (the shared layers: the server's, then each client's copy), GS (their
 * gradients), ONES, and per padded row U, E (gathered user and item rows),
 * P (their product), Q, DU, DE (gradients), ACT (each layer's
 * pre-activation and output), DH, DZ2 (backward through the layers). */
enum { BUF_D, BUF_W, BUF_B, BUF_G, BUF_Z, BUF_DZ, BUF_GRAD, BUF_JUNK, BUF_LOSS, BUF_I, BUF_F,
       BUF_EVAL_ROWS, BUF_EVAL_XI, BUF_SCORES,
       BUF_WS, BUF_GS, BUF_ONES, BUF_U, BUF_E, BUF_P, BUF_Q, BUF_DU, BUF_DE, BUF_ACT, BUF_DH, BUF_DZ2,
       N_BUFS };

struct fr_rating_cohort {
    fr_backend *be;
    fr_buffer *buf[N_BUFS];
    scratch hs;          /* host scratch: negatives, slot map */
    cohort_client *cl;
    size_t cap_cl;
    int32_t *row_item;   /* cohort overlay row -> item */
    size_t n_rows, cap_rows;
    int32_t *row;        /* sample -> row of D (current epoch's order) */
    float *label;
    size_t n_samples, cap_samples;
    cohort_step *steps;
    size_t n_steps, cap_steps;
    ncf_step *nsteps;
    size_t n_nsteps, cap_nsteps;
    ivec I, eval_rows, eval_xi;
    fvec F;
    float *overlay, *w, *b, *scores, *losses, *shared; /* downloads */
    size_t cap_overlay, cap_w, cap_b, cap_scores, cap_losses, cap_shared;
    uint64_t *order;     /* sort keys of a batch: row << 32 | position */
    size_t cap_order;
    size_t *rank;        /* FedNCF: the core's clients by sample count */
    size_t cap_rank;
};

/* Device buffer i holds at least `bytes` (contents not kept). */
fr_status fr_rc_dev(fr_rating_cohort *c, int i, size_t bytes);
/* A view of device buffer i from element off. */
static inline fr_view fr_rc_at(fr_rating_cohort *c, int i, size_t off)
{
    return fr_view_of(c->buf[i], off);
}
/* Lays out client i (c->cl[i].user set): its samples drawn as the
 * one-by-one path draws them, an overlay row per distinct item, and its
 * evaluation rows (into eval_rows / eval_xi, client i). */
fr_status fr_rc_lay_out_client(const fr_rating *p, fr_rating_cohort *c, size_t i);
/* Client i's samples shuffled for local epoch `epoch`, as the one-by-one
 * path shuffles them. */
void fr_rc_shuffle_client(const fr_rating *p, fr_rating_cohort *c, size_t i, size_t epoch);
/* Appends to c->I base + the positions of the m samples whose rows are
 * rows[0..m), sorted by row (stable: equal rows in position order). */
fr_status fr_rc_push_by_row(fr_rating_cohort *c, const int32_t *rows, size_t m, size_t base);
/* The segments of equal rows among n samples listed in row order
 * (I[order_at + j]: a sample's position; I[rows_at + position]: its row):
 * appends each segment's first j, then n (from *start), then each
 * segment's row (from *seg); *n_seg segments. Offsets are into I, which
 * may move as it grows. */
fr_status fr_rc_row_segments(ivec *I, size_t rows_at, size_t order_at, size_t n, size_t *start, size_t *seg,
                             size_t *n_seg);
/* qsort order of uint64 keys. */
int fr_rc_compare_key(const void *a, const void *b);
/* Client i kept in the model (p->keep) from its downloaded rows. */
fr_status fr_rc_keep_client(fr_rating *p, fr_rating_cohort *c, size_t i);

/* Client i's results after its cohort's downloads: its row of c->w into
 * the model, its figures from c->scores, kept if the model keeps, and its
 * upload's counts, times and trained rows. */
fr_status fr_rc_finish_client(fr_rating *p, fr_rating_cohort *c, size_t i, fr_fed_upload *up, double t_train,
                              double t_eval);

/* FedNCF's cohort round (rating_cohort_ncf.c). */
fr_status fr_rating_cohort_train_ncf(fr_rating *p, fr_rating_cohort *c, const size_t *clients, size_t n,
                                     fr_fed_upload *const *ups);

#endif
