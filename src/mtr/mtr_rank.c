/* mtr_rank.c — the multi-task recommender's full-ranking evaluation (see
 * fedrec/mtrec.h): every user with targets scores every item, and the
 * best FR_RANK_K_MAX outside the skip lists make the user's Recall@K and
 * NDCG@K.
 *
 * The scores are never stored: fr_host_sgemm_tiles hands out tiles of
 * users x items while they are in the cache (L2), and each is consumed at
 * once by the users' running top-K selections (fedrec/metrics.h), which a
 * SIMD scan against the worst kept score reduces to a pass at memory
 * speed. The threads take blocks of items, so each keeps its own
 * selection per user; at the end a user's selections are merged (the
 * ranking is a total order, so the result is the same whichever thread
 * saw which items) and the users' figures summed in user order: the
 * figures do not depend on the thread count. Users go in chunks so the
 * selections stay within SELECTION_BYTES whatever the thread count.
 *
 * On a large item table most of the product cannot matter: a score is at
 * most |u| |v| (Cauchy-Schwarz), and once a user's selection is full an
 * item whose bound is below its bar cannot enter. So the items are taken
 * in decreasing norm (a sorted copy of their rows, PREFIX_ITEMS first for
 * every user: the popular, long rows that fill the selections and raise
 * the bars), then each user's need (how far down the norms the bound
 * still reaches its bar) is known, the users are sorted by it, and each
 * further block of items is computed only for the users that still need
 * it. The scores computed are the same floats (the same kernel, K order
 * and rows), the bound is widened by the dot product's rounding error,
 * and the selection does not depend on the order items come in: the
 * figures are those of the whole product, bit for bit. How much was
 * computed depends on the model (a freshly initialised table, all norms
 * alike, needs nearly all of it); fr_mtr_eval_profile says. */
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/error_internal.h"
#include "core/progress_call.h"
#include "mtr/mtr_internal.h"

/* A tile of 96 users x 1024 items is 384 KiB of scores and its packed
 * items 128 KiB at d = 32: both stay in a 1 MiB L2 while the kernel
 * writes the tile and the selections read it. 96 is a multiple of every
 * path's mr (4, 6, 8, 12), 1024 of every nr. */
#define TILE_USERS 96
#define TILE_ITEMS 1024
#define SELECTION_BYTES ((size_t)64 << 20)
/* Norm-ordered ranking: only from this many items (fewer: the whole
 * product is cheap, and Office-sized tables take the path above), with
 * this many of the longest rows offered to every user first. */
#define PRUNE_MIN_ITEMS (16 * TILE_ITEMS)
#define PREFIX_ITEMS (8 * TILE_ITEMS)

struct fr_mtr_ranker {
    size_t chunk;                /* users per chunk */
    int threads;
    fr_top_k *sel;               /* [slot][user of the chunk] */
    uint64_t *keys;              /* [slot][user][FR_RANK_K_MAX] */
    double *figures;             /* [user of the chunk][recall 4, ndcg 4] */
    unsigned char *ranked;
    double *select_s;            /* per slot: CPU seconds in the selections */
    _Atomic uint32_t *bar;       /* per user of the chunk: the highest bar of its selections */
    /* norm-ordered ranking (PRUNE_MIN_ITEMS and more), made when first used */
    int32_t *item_order;         /* item ids by decreasing norm */
    float *item_rows;            /* their rows in that order */
    float *item_norm;            /* their norms, decreasing */
    int32_t *user_order;         /* the chunk's users by decreasing need */
    float *user_rows;            /* their rows in that order */
    float *user_norm;            /* per user of the chunk */
    size_t *need;                /* per user of the chunk: sorted items it needs */
    size_t *row_limit;           /* per block of the items after the prefix */
    uint64_t *sort_keys;         /* scratch of both sorts */
};

/* The norm-ordered ranking's arrays (sort_items), freed and forgotten. */
static void free_norm_order(fr_mtr_ranker *r)
{
    free(r->item_order);
    free(r->item_rows);
    free(r->item_norm);
    free(r->user_order);
    free(r->user_rows);
    free(r->user_norm);
    free(r->need);
    free(r->row_limit);
    free(r->sort_keys);
    r->item_order = r->user_order = NULL;
    r->item_rows = r->item_norm = r->user_rows = r->user_norm = NULL;
    r->need = r->row_limit = NULL;
    r->sort_keys = NULL;
}

void fr_mtr_ranker_free(fr_mtr_ranker *r)
{
    if (!r)
        return;
    free(r->sel);
    free(r->keys);
    free(r->figures);
    free(r->ranked);
    free(r->select_s);
    free((void *)r->bar);
    free_norm_order(r);
    free(r);
}

static fr_status ranker_create(const fr_mtr *m, fr_mtr_ranker **out)
{
    fr_mtr_ranker *r = calloc(1, sizeof *r);
    if (!r)
        return fr_fail_nomem("ranking state", sizeof *r);
    r->threads = fr_host_threads(m->host);
    size_t per_user = FR_RANK_K_MAX * sizeof(uint64_t) + sizeof(fr_top_k);
    size_t chunk = SELECTION_BYTES / ((size_t)r->threads * per_user);
    chunk = chunk < TILE_USERS ? TILE_USERS : chunk / TILE_USERS * TILE_USERS;
    r->chunk = chunk < m->data->n_users ? chunk : m->data->n_users;
    size_t slots = (size_t)r->threads;
    r->sel = malloc(slots * r->chunk * sizeof *r->sel);
    r->keys = malloc(slots * r->chunk * FR_RANK_K_MAX * sizeof *r->keys);
    r->figures = malloc(r->chunk * 2 * FR_RANK_CUTOFFS * sizeof *r->figures);
    r->ranked = malloc(r->chunk);
    r->select_s = malloc(slots * sizeof *r->select_s);
    r->bar = malloc(r->chunk * sizeof *r->bar);
    if (!r->sel || !r->keys || !r->figures || !r->ranked || !r->select_s || !r->bar) {
        size_t bytes = slots * r->chunk * per_user; /* before r goes */
        fr_mtr_ranker_free(r);
        return fr_fail_nomem("ranking state", bytes);
    }
    *out = r;
    return FR_OK;
}

typedef struct rank_pass {
    fr_mtr *m;
    int test;
    size_t first, count;    /* the chunk's users */
    /* norm-ordered passes: the product's columns are items
     * col_ids[col_offset + j], its rows users row_user[i] of the chunk
     * (NULL: row i is user i, column j item j) */
    const int32_t *col_ids, *row_user;
    size_t col_offset;
    const float *item_norm, *user_norm;  /* for the bound; NULL: none */
    float margin;                        /* 1 + the dot product's relative rounding bound */
} rank_pass;

/* A user's skip lists: training items, and for the test the validation
 * items when test_excludes_val; and the targets. */
static double process_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void user_lists(const fr_mtr *m, int test, size_t u, const int32_t **skip_a, size_t *n_a,
                       const int32_t **skip_b, size_t *n_b, const int32_t **targets, size_t *n_targets)
{
    const fr_mtr_data *d = m->data;
    *skip_a = d->train_items + d->train_start[u];
    *n_a = d->train_start[u + 1] - d->train_start[u];
    *skip_b = NULL;
    *n_b = 0;
    if (test && m->o.test_excludes_val) {
        *skip_b = d->val_items + d->val_start[u];
        *n_b = d->val_start[u + 1] - d->val_start[u];
    }
    const size_t *ts = test ? d->test_start : d->val_start;
    *targets = (test ? d->test_items : d->val_items) + ts[u];
    *n_targets = ts[u + 1] - ts[u];
}

/* Thread CPU seconds: the selections' share of a thread's work, which
 * wall time would overstate on a shared machine. */
static double thread_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* A tile's rows, each offered to its user's selection of this slot. A
 * full selection on another slot holds FR_RANK_K_MAX items scoring at
 * least its bar, so nothing below the highest bar of a user's selections
 * can rank: each slot filters with that (published through a relaxed
 * atomic; a stale value is only a lower, still valid, bar). */
static void consume_tile(void *arg, int slot, size_t i0, size_t rows, size_t j0, size_t cols,
                         const float *c, size_t ldc)
{
    const rank_pass *p = arg;
    fr_mtr_ranker *r = p->m->ranker;
    double t0 = thread_cpu_seconds();
    fr_top_k *sel = r->sel + (size_t)slot * r->chunk;
    /* the block's longest row: its columns are in decreasing norm */
    float block_norm = p->item_norm ? p->item_norm[p->col_offset + j0] * p->margin : 0;
    for (size_t i = 0; i < rows; i++) {
        const int32_t *sa, *sb, *targets;
        size_t na, nb, nt;
        size_t k = p->row_user ? (size_t)p->row_user[i0 + i] : i0 + i;
        user_lists(p->m, p->test, p->first + k, &sa, &na, &sb, &nb, &targets, &nt);
        if (!nt)
            continue;
        fr_top_k *t = &sel[k];
        if (t->n == t->k) {
            float shared = bits_float(atomic_load_explicit(&r->bar[k], memory_order_relaxed));
            if (shared > t->bar)
                t->bar = shared;
            /* no score of the block reaches the bar (a NaN bound passes) */
            if (p->item_norm && p->user_norm[k] * block_norm + FLT_MIN < t->bar)
                continue;
        }
        if (p->col_ids)
            fr_top_k_offer_ids(t, c + i * ldc, cols, p->col_ids + p->col_offset + j0, sa, na, sb, nb);
        else
            fr_top_k_offer(t, c + i * ldc, cols, (int32_t)j0, sa, na, sb, nb);
        if (t->n == t->k && t->bar > bits_float(atomic_load_explicit(&r->bar[k], memory_order_relaxed)))
            atomic_store_explicit(&r->bar[k], float_bits(t->bar), memory_order_relaxed);
    }
    r->select_s[slot] += thread_cpu_seconds() - t0;
}

/* Merge a user's selections and add up its figures. */
static void finish_users(void *arg, size_t task)
{
    const rank_pass *p = arg;
    fr_mtr_ranker *r = p->m->ranker;
    size_t per = (p->count + (size_t)r->threads * 4 - 1) / ((size_t)r->threads * 4);
    size_t begin = task * per, end = begin + per < p->count ? begin + per : p->count;
    for (size_t k = begin; k < end; k++) {
        const int32_t *sa, *sb, *targets;
        size_t na, nb, nt;
        user_lists(p->m, p->test, p->first + k, &sa, &na, &sb, &nb, &targets, &nt);
        double *fig = r->figures + k * 2 * FR_RANK_CUTOFFS;
        memset(fig, 0, 2 * FR_RANK_CUTOFFS * sizeof *fig);
        r->ranked[k] = nt > 0;
        if (!nt)
            continue;
        fr_top_k *into = &r->sel[k];
        for (int s = 1; s < r->threads; s++)
            fr_top_k_merge(into, &r->sel[(size_t)s * r->chunk + k]);
        int32_t top[FR_RANK_K_MAX];
        size_t n_top = fr_top_k_take(into, top, NULL);
        fr_rank_list(top, n_top, targets, nt, fig, fig + FR_RANK_CUTOFFS);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}


/* The items by decreasing norm (equal norms by id), their rows copied in
 * that order. *usable = 0 when a norm is not finite: the bound then says
 * nothing, and the ranking computes every score. */
static fr_status sort_items(fr_mtr *m, int *usable)
{
    fr_mtr_ranker *r = m->ranker;
    const fr_mtr_data *d = m->data;
    size_t n = d->n_items, dim = m->dim;
    if (!r->item_order) {
        size_t keys = n > r->chunk ? n : r->chunk;
        r->item_order = malloc(n * sizeof *r->item_order);
        r->item_rows = malloc(n * dim * sizeof *r->item_rows);
        r->item_norm = malloc(n * sizeof *r->item_norm);
        r->user_order = malloc(r->chunk * sizeof *r->user_order);
        r->user_rows = malloc(r->chunk * dim * sizeof *r->user_rows);
        r->user_norm = malloc(r->chunk * sizeof *r->user_norm);
        r->need = malloc(r->chunk * sizeof *r->need);
        r->row_limit = malloc((n / TILE_ITEMS + 1) * sizeof *r->row_limit);
        r->sort_keys = malloc(keys * sizeof *r->sort_keys);
        if (!r->item_order || !r->item_rows || !r->item_norm || !r->user_order || !r->user_rows ||
            !r->user_norm || !r->need || !r->row_limit || !r->sort_keys) {
            free_norm_order(r);
            return fr_fail_nomem("the norm-ordered ranking's copy of the item rows",
                                 n * (dim * sizeof(float) + sizeof(float) + sizeof(int32_t) + sizeof(uint64_t)));
        }
    }
    const float *items = m->table + d->n_users * dim;
    for (size_t j = 0; j < n; j++) {
        double ss = 0;
        for (size_t c = 0; c < dim; c++)
            ss += (double)items[j * dim + c] * items[j * dim + c];
        float norm = (float)sqrt(ss);
        if (!isfinite(norm)) {
            *usable = 0;
            return FR_OK;
        }
        /* a norm's bits order as the norm (>= 0): complemented, the
         * ascending sort puts the longest first */
        r->sort_keys[j] = (uint64_t)(~float_bits(norm)) << 32 | (uint32_t)j;
    }
    qsort(r->sort_keys, n, sizeof *r->sort_keys, cmp_u64);
    for (size_t x = 0; x < n; x++) {
        uint32_t j = (uint32_t)r->sort_keys[x];
        r->item_order[x] = (int32_t)j;
        r->item_norm[x] = bits_float(~(uint32_t)(r->sort_keys[x] >> 32));
        memcpy(r->item_rows + x * dim, items + (size_t)j * dim, dim * sizeof(float));
    }
    *usable = 1;
    return FR_OK;
}

/* The first sorted item from `from` on whose bound is below bar (n when
 * none): the norms decrease, so the bounds do. */
static size_t first_below(const float *item_norm, size_t from, size_t n, float user_norm, float margin, float bar)
{
    size_t lo = from, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (user_norm * (item_norm[mid] * margin) + FLT_MIN < bar)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* One chunk's users in the order of the need the prefix pass left them
 * with (how far down the sorted items a score can still reach their
 * bar; 0 for users with no targets), their rows copied in that order, and
 * for each later block of items the number of these users needing it.
 * Returns the scores the second pass computes. */
static double order_users(fr_mtr *m, int test, size_t first, size_t count, size_t prefix, float margin)
{
    fr_mtr_ranker *r = m->ranker;
    const fr_mtr_data *d = m->data;
    size_t n = d->n_items, dim = m->dim;
    for (size_t k = 0; k < count; k++) {
        const int32_t *sa, *sb, *targets;
        size_t na, nb, nt;
        user_lists(m, test, first + k, &sa, &na, &sb, &nb, &targets, &nt);
        float bar = bits_float(atomic_load_explicit(&r->bar[k], memory_order_relaxed));
        size_t need = !nt ? 0 : bar == -__builtin_inff() ? n
                                : first_below(r->item_norm, prefix, n, r->user_norm[k], margin, bar);
        r->sort_keys[k] = (uint64_t)(UINT32_MAX - (uint32_t)need) << 32 | (uint32_t)k;
    }
    qsort(r->sort_keys, count, sizeof *r->sort_keys, cmp_u64);
    for (size_t x = 0; x < count; x++) {
        size_t k = (uint32_t)r->sort_keys[x];
        r->user_order[x] = (int32_t)k;
        r->need[x] = UINT32_MAX - (uint32_t)(r->sort_keys[x] >> 32);
        memcpy(r->user_rows + x * dim, m->table + (first + k) * dim, dim * sizeof(float));
    }
    double computed = 0;
    size_t users = count;
    for (size_t b = 0, start = prefix; start < n; b++, start += TILE_ITEMS) {
        while (users > 0 && r->need[users - 1] <= start)
            users--;
        r->row_limit[b] = users;
        computed += (double)users * (double)(n - start < TILE_ITEMS ? n - start : TILE_ITEMS);
    }
    return computed;
}

fr_status fr_mtr_evaluate(fr_mtr *m, int test, fr_rank_metrics *out)
{
    const fr_mtr_data *d = m->data;
    memset(out, 0, sizeof *out);
    if (!m->ranker)
        FR_TRY(ranker_create(m, &m->ranker));
    fr_mtr_ranker *r = m->ranker;
    double t_start = fr_clock_seconds(), select_s = 0, gemm_s = 0, finish_s = 0;
    /* Few items (Office's 2,420): whole rows in each tile, fewer of them,
     * so each user's selection sees its row at once and can start from
     * a sampled bar (fedrec/metrics.h), as it would over a stored row. */
    size_t tile_items = TILE_ITEMS, tile_users = TILE_USERS;
    if (d->n_items <= 4 * TILE_ITEMS) {
        tile_items = d->n_items;
        tile_users = TILE_USERS * TILE_ITEMS / d->n_items / 24 * 24; /* 24: every mr divides it */
        if (tile_users < 24)
            tile_users = 24;
    }
    size_t dim = m->dim, n = d->n_items;
    /* A float dot product of dim terms exceeds |u| |v| by at most about
     * dim units in the last place, the norms and their product add a few:
     * the bound is widened by twice that (and by FLT_MIN, for products
     * so small that they lose their relative precision). */
    float margin = 1.0f + (float)(2 * dim + 8) * FLT_EPSILON;
    int sorted = 0;
    fr_status s = FR_OK;
    if (n >= PRUNE_MIN_ITEMS)
        s = sort_items(m, &sorted);
    double computed = 0;
    for (size_t first = 0; s == FR_OK && first < d->n_users; first += r->chunk) {
        size_t count = d->n_users - first < r->chunk ? d->n_users - first : r->chunk;
        for (size_t k = 0; k < count; k++)
            atomic_store_explicit(&r->bar[k], float_bits(-__builtin_inff()), memory_order_relaxed);
        for (size_t sl = 0; sl < (size_t)r->threads; sl++)
            for (size_t k = 0; k < count; k++)
                fr_top_k_init(&r->sel[sl * r->chunk + k], r->keys + (sl * r->chunk + k) * FR_RANK_K_MAX,
                              FR_RANK_K_MAX);
        double c0 = process_cpu_seconds();
        for (int sl = 0; sl < r->threads; sl++)
            r->select_s[sl] = 0;
        if (!sorted) {
            rank_pass p = {m, test, first, count, NULL, NULL, 0, NULL, NULL, margin};
            s = fr_host_sgemm_tiles(m->host, FR_TRANS, count, n, dim, m->table + first * dim, dim,
                                   m->table + d->n_users * dim, dim, tile_users, tile_items, NULL, consume_tile, &p);
            computed += (double)count * (double)n;
        } else {
            for (size_t k = 0; k < count; k++) {
                double ss = 0;
                for (size_t c = 0; c < dim; c++)
                    ss += (double)m->table[(first + k) * dim + c] * m->table[(first + k) * dim + c];
                r->user_norm[k] = (float)sqrt(ss); /* not finite: the bound never skips */
            }
            /* the longest rows for every user, then the rest where needed */
            rank_pass p = {m, test, first, count, r->item_order, NULL, 0, r->item_norm, r->user_norm, margin};
            s = fr_host_sgemm_tiles(m->host, FR_TRANS, count, PREFIX_ITEMS, dim, m->table + first * dim, dim,
                                   r->item_rows, dim, tile_users, tile_items, NULL, consume_tile, &p);
            computed += (double)count * PREFIX_ITEMS;
            if (s == FR_OK) {
                computed += order_users(m, test, first, count, PREFIX_ITEMS, margin);
                rank_pass q = {m, test, first, count, r->item_order, r->user_order, PREFIX_ITEMS,
                               r->item_norm, r->user_norm, margin};
                s = fr_host_sgemm_tiles(m->host, FR_TRANS, count, n - PREFIX_ITEMS, dim, r->user_rows, dim,
                                       r->item_rows + PREFIX_ITEMS * dim, dim, tile_users, tile_items, r->row_limit,
                                       consume_tile, &q);
            }
        }
        double t1 = fr_clock_seconds(), c1 = process_cpu_seconds(), sel_s = 0;
        for (int sl = 0; sl < r->threads; sl++)
            sel_s += r->select_s[sl];
        select_s += sel_s;
        gemm_s += c1 - c0 - sel_s; /* the threads' CPU time outside the selections */
        if (s != FR_OK)
            break;
        rank_pass p = {m, test, first, count, NULL, NULL, 0, NULL, NULL, margin};
        size_t tasks = (size_t)r->threads * 4;
        fr_host_parallel_for(m->host, tasks, finish_users, &p);
        finish_s += fr_clock_seconds() - t1;
        fr_progress_call(&m->o.progress, FR_PROGRESS_EVAL, "user", first + count, d->n_users);
        for (size_t k = 0; k < count; k++) {
            if (!r->ranked[k])
                continue;
            out->users++;
            for (size_t c = 0; c < FR_RANK_CUTOFFS; c++) {
                out->recall[c] += r->figures[k * 2 * FR_RANK_CUTOFFS + c];
                out->ndcg[c] += r->figures[k * 2 * FR_RANK_CUTOFFS + FR_RANK_CUTOFFS + c];
            }
        }
    }
    for (size_t c = 0; out->users && c < FR_RANK_CUTOFFS; c++) {
        out->recall[c] /= (double)out->users;
        out->ndcg[c] /= (double)out->users;
    }
    m->eval_profile.seconds = fr_clock_seconds() - t_start;
    m->eval_profile.gemm_cpu_seconds = gemm_s;
    m->eval_profile.select_cpu_seconds = select_s;
    m->eval_profile.merge_seconds = finish_s;
    m->eval_profile.threads = r->threads;
    m->eval_profile.computed_fraction = d->n_users && n ? computed / ((double)d->n_users * (double)n) : 0;
    return s;
}

void fr_mtr_last_eval_profile(const fr_mtr *m, fr_mtr_eval_profile *out)
{
    *out = m->eval_profile;
}
