/* test_fed_core.c — the federation core alone (src/fed/fed_core.h), driven
 * through its client interface (fedrec/fed_client.h) by a toy model that
 * needs no data, backend or model code: client c of round r changes two
 * rows of the table and the dense vector by values that depend on (c, r)
 * only. Checked against sums the test computes itself, float for float:
 * the mean and the sample-weighted mean in client order (table and dense
 * part), the per-row mean with its server step (folded as uploads come on
 * one thread, summed after the round on two: the same bits), the same
 * tables on 1 and 2 threads, sampling a fraction, refusing a client whose
 * update is not finite or not well formed (a row out of the table, rows
 * out of their groups), clipping, a quorum that is not met, and shared
 * personal values averaged as documented; the plain mean folded in
 * order keeps no upload past its fold, and a refusal met mid-round
 * rescales it. Per-client state (fr_fed_create_per_client): the server's
 * start, then a round's units combined by their rules — the weighted
 * mean, PCGrad then the mean, a table row by row, personal weights —
 * against results worked out by hand, on 1 and 2 threads, a refused
 * client left out (units left to one client not combined), local only.
 * Broken on purpose (the mean applied in reverse client order; the
 * per-row mean not folded while streaming; the ordered fold's rescale
 * skipped; a unit's combined values given to the wrong member) it fails. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "fed/fed_core.h"
#include "fed/fed_internal.h"
#include "testutil.h"

enum { CLIENTS = 23, ROWS = 8, WIDTH = 3, DENSE = 2 };

typedef struct toy {
    int nan_client;          /* this client's update is NaN (-1: none) */
    int bad_client;          /* this client sends a row out of the table (-1: none) */
    int misgrouped_client;   /* this client's group_start does not match its rows (-1: none) */
    float personal[CLIENTS][2];
    unsigned round_begun;
} toy;

/* Client c's rows in round r (sorted, distinct). */
static size_t toy_rows(size_t c, unsigned r, int32_t *rows)
{
    int32_t a = (int32_t)((c * 7 + r * 3) % ROWS), b = (int32_t)((c * 11 + 5 + r) % ROWS);
    if (a == b)
        b = (b + 1) % ROWS;
    rows[0] = a < b ? a : b;
    rows[1] = a < b ? b : a;
    return 2;
}

static float toy_delta(size_t c, unsigned r, int32_t row, size_t col)
{
    return ((float)(c + 1) * 0.0137f + (float)row * 0.00113f + (float)col * 1.7e-4f) * (float)(r + 1) / 3.0f;
}

static float toy_dense(size_t c, unsigned r, size_t i)
{
    return (float)(c + 1) * 1e-3f - (float)i * 1e-4f + (float)r * 1e-5f;
}

static fr_status worker_create(void *model, void **worker)
{
    *worker = model;
    return FR_OK;
}

static void worker_destroy(void *model, void *worker)
{
    (void)model;
    (void)worker;
}

static void round_begin(void *model, unsigned round)
{
    ((toy *)model)->round_begun = round + 1;
}

static fr_status train(void *model, void *worker, unsigned round, size_t c, const fr_fed_state *st,
                       fr_fed_upload *up)
{
    toy *t = model;
    (void)worker;
    if (up->cap_rows < 2) {
        int32_t *rows = realloc(up->rows, 2 * sizeof *rows);
        if (rows)
            up->rows = rows;
        float *delta = realloc(up->delta, 2 * st->width * sizeof *delta);
        if (delta)
            up->delta = delta;
        if (!rows || !delta)
            return FR_ERR_NOMEM;
        up->cap_rows = 2;
    }
    int32_t rows[2];
    size_t n = toy_rows(c, round, rows);
    size_t count[FR_FED_GROUPS + 1] = {0};
    for (size_t k = 0; k < n; k++)
        count[fr_fed_group_of((size_t)rows[k], st->n_rows) + 1]++;
    for (size_t g = 0; g < FR_FED_GROUPS; g++)
        count[g + 1] += count[g];
    for (size_t g = 0; g <= FR_FED_GROUPS; g++)
        up->group_start[g] = (uint32_t)count[g];
    for (size_t k = 0; k < n; k++) { /* sorted rows stay in group order */
        up->rows[k] = rows[k];
        for (size_t j = 0; j < st->width; j++)
            up->delta[k * st->width + j] = (int)c == t->nan_client ? NAN : toy_delta(c, round, rows[k], j);
    }
    up->n_rows = n;
    if ((int)c == t->bad_client)
        up->rows[1] = (int32_t)st->n_rows + 3;
    if ((int)c == t->misgrouped_client) /* every row claimed for group 0 */
        for (size_t g = 1; g <= FR_FED_GROUPS; g++)
            up->group_start[g] = (uint32_t)n;
    if (st->n_dense) {
        if (!up->dense_delta && !(up->dense_delta = malloc(st->n_dense * sizeof(float))))
            return FR_ERR_NOMEM;
        for (size_t i = 0; i < st->n_dense; i++)
            up->dense_delta[i] = toy_dense(c, round, i);
    }
    up->samples = c + 1;
    up->loss_sum = (double)c;
    return FR_OK;
}

static double cost(void *model, size_t c)
{
    (void)model;
    return (double)(c + 1);
}

static void personal_get(void *model, size_t c, float *v)
{
    memcpy(v, ((toy *)model)->personal[c], 2 * sizeof *v);
}

static void personal_set(void *model, size_t c, const float *v)
{
    memcpy(((toy *)model)->personal[c], v, 2 * sizeof *v);
}

static const fr_fed_client_ops toy_ops = {worker_create, worker_destroy, round_begin, train, cost, 2,
                                          personal_get, personal_set, 0, NULL, NULL, NULL, 0};

static void options(fr_fed_options *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 3;
    o->client_fraction = 1.0;
    fr_participation_default(&o->participation);
    o->trim = 0.1;
    o->name = "toy";
}

/* rounds of o over a fresh core on `threads` threads; the final table and
 * dense vector into table / dense, the last round into last. */
static size_t last_held;
static int last_ordered;

static size_t fold_window; /* fr_fed_set_fold_window for the next runs (0: default) */

static void run(const fr_fed_options *o, int threads, unsigned rounds, toy *t, float *table, float *dense,
                fr_fed_round *last)
{
    fr_pool *pool = NULL;
    fr_fed *f = NULL;
    CHECK_OK(fr_pool_create(threads, &pool));
    CHECK_OK(fr_fed_create(o, CLIENTS, ROWS, WIDTH, DENSE, pool, &toy_ops, t, &f));
    if (!f) {
        fr_pool_destroy(pool);
        return;
    }
    fr_fed_set_fold_window(f, fold_window);
    fr_fed_state *st = fr_fed_state_of(f);
    for (size_t i = 0; i < ROWS * WIDTH; i++)
        st->table[i] = (float)i * 0.5f;
    for (size_t i = 0; i < DENSE; i++)
        st->dense[i] = 1.0f;
    for (unsigned r = 0; r < rounds; r++)
        CHECK_OK(fr_fed_run_round(f, r, last));
    /* Uploads still holding buffers after the round (the ordered fold
     * passes them on), and whether the round folded in order. */
    last_held = 0;
    for (size_t k = 0; k < CLIENTS; k++)
        last_held += f->outs[k].rows != NULL;
    last_ordered = f->ordered;
    memcpy(table, st->table, sizeof(float) * ROWS * WIDTH);
    memcpy(dense, st->dense, sizeof(float) * DENSE);
    fr_fed_free(f);
    fr_pool_destroy(pool);
}

static void initial(float *table, float *dense)
{
    for (size_t i = 0; i < ROWS * WIDTH; i++)
        table[i] = (float)i * 0.5f;
    for (size_t i = 0; i < DENSE; i++)
        dense[i] = 1.0f;
}

/* The mean (weighted or not) of `rounds` rounds, as the core must do it:
 * per client in client order, row += scale * delta. skip: a client left
 * out. */
/* a and b within tol * (1 + |b|) of each other everywhere. */
static int near(const float *a, const float *b, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)a[i] - (double)b[i]) <= tol * (1.0 + fabs((double)b[i]))))
            return 0;
    return 1;
}

static void expect_mean(int weighted, unsigned rounds, int skip, float *table, float *dense)
{
    initial(table, dense);
    for (unsigned r = 0; r < rounds; r++) {
        double total = 0;
        size_t participants = 0;
        for (size_t c = 0; c < CLIENTS; c++)
            if ((int)c != skip) {
                total += (double)(c + 1);
                participants++;
            }
        for (size_t c = 0; c < CLIENTS; c++) {
            if ((int)c == skip)
                continue;
            float scale = weighted ? (float)((double)(c + 1) / total) : 1.0f / (float)participants;
            int32_t rows[2];
            size_t n = toy_rows(c, r, rows);
            for (size_t k = 0; k < n; k++)
                for (size_t j = 0; j < WIDTH; j++)
                    table[(size_t)rows[k] * WIDTH + j] += scale * toy_delta(c, r, rows[k], j);
            for (size_t i = 0; i < DENSE; i++)
                dense[i] += scale * toy_dense(c, r, i);
        }
    }
}

/* The per-row mean: each row's changes summed in client order, then
 * row += sum * (server_lr / uploaders); the dense part by the plain mean. */
static void expect_row_mean(float server_lr, unsigned rounds, float *table, float *dense)
{
    initial(table, dense);
    for (unsigned r = 0; r < rounds; r++) {
        float sum[ROWS * WIDTH] = {0};
        unsigned count[ROWS] = {0};
        for (size_t c = 0; c < CLIENTS; c++) {
            int32_t rows[2];
            size_t n = toy_rows(c, r, rows);
            for (size_t k = 0; k < n; k++) {
                for (size_t j = 0; j < WIDTH; j++)
                    sum[(size_t)rows[k] * WIDTH + j] += toy_delta(c, r, rows[k], j);
                count[rows[k]]++;
            }
            for (size_t i = 0; i < DENSE; i++)
                dense[i] += (1.0f / (float)CLIENTS) * toy_dense(c, r, i);
        }
        for (size_t i = 0; i < ROWS; i++)
            for (size_t j = 0; count[i] && j < WIDTH; j++)
                table[i * WIDTH + j] += sum[i * WIDTH + j] * (server_lr / (float)count[i]);
    }
}

static int same(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}


/* ---- per-client state (fr_fed_create_per_client) -------------------------- *
 * Three clients, each its own vector; clients 0 and 1 (11 values) hold
 * units A (mean), B (mean after coordination), C (a 2 x 2 table averaged
 * row by row), P (personal) and one local value; client 2 (7 values)
 * holds a local value first, then A and C at other offsets. Weights:
 * samples 1, 1, 2. */
enum { PC_CLIENTS = 3, PC_MOST = 11 };
static const size_t pc_n[PC_CLIENTS] = {11, 11, 7};
static const fr_fed_seg seg_a = {0, 2, 1, 2}, seg_b = {2, 2, 1, 2}, seg_c = {4, 2, 2, 2}, seg_p = {9, 2, 1, 2},
                        seg_a2 = {1, 2, 1, 2}, seg_c2 = {3, 2, 2, 2};
static const fr_fed_unit pc_units01[4] = {{10, FR_FED_AGG_MEAN, 0, 0, &seg_a, 1, 2},
                                          {20, FR_FED_AGG_MEAN, 1, 0, &seg_b, 1, 2},
                                          {30, FR_FED_AGG_MEAN, 0, 1, &seg_c, 1, 4},
                                          {40, FR_FED_AGG_PERSONAL, 0, 0, &seg_p, 1, 2}};
static const fr_fed_unit pc_units2[2] = {{10, FR_FED_AGG_MEAN, 0, 0, &seg_a2, 1, 2},
                                         {30, FR_FED_AGG_MEAN, 0, 1, &seg_c2, 1, 4}};
/* A round's change of each client (trained - received). */
static const float pc_delta[PC_CLIENTS][PC_MOST] = {
    {1, 2, 1, 0, 1, 1, 0, 0, 7, 1, 0},        /* A, B, C (row 1 unchanged), local, P */
    {3, 4, -1, 1, 3, -1, 2, 2, 0.5f, 0, 1},   /* B in conflict with client 0's */
    {3, -0.5f, 2, 0, 0, -1, 0.5f}};           /* local, A, C (row 0 unchanged) */

typedef struct pc_toy {
    int nan_client;               /* this client's update of A is NaN (-1: none) */
    float loaded[PC_CLIENTS][PC_MOST];
    size_t loads[PC_CLIENTS];
} pc_toy;

static fr_status pc_train(void *model, void *worker, unsigned round, size_t c, const fr_fed_state *st,
                          fr_fed_upload *up)
{
    pc_toy *t = model;
    (void)worker;
    (void)round;
    for (size_t i = 0; i < pc_n[c]; i++)
        up->values[i] = st->client[c][i] + pc_delta[c][i];
    if ((int)c == t->nan_client)
        up->values[0] = up->values[1] = NAN;
    up->samples = c == 2 ? 2 : 1;
    up->loss_sum = 0.5 * (double)(c + 1);
    return FR_OK;
}

static size_t pc_values(void *model, size_t c)
{
    (void)model;
    return pc_n[c];
}

static const fr_fed_unit *pc_client_units(void *model, size_t c, size_t *n)
{
    (void)model;
    *n = c == 2 ? 2 : 4;
    return c == 2 ? pc_units2 : pc_units01;
}

static fr_status pc_load(void *model, size_t c, const float *values)
{
    pc_toy *t = model;
    memcpy(t->loaded[c], values, pc_n[c] * sizeof *values);
    t->loads[c]++;
    return FR_OK;
}

static const fr_fed_client_ops pc_ops = {worker_create, worker_destroy, NULL, pc_train, cost, 0,
                                         NULL, NULL, 0, NULL, NULL, NULL, 0};
static const fr_fed_vector_ops pc_vops = {pc_values, pc_client_units, pc_load};

/* One round over the three clients on `threads` threads, from the starting
 * vectors 1.., 100.., 200.. (the server's start then copies client 0's
 * units to the others); the clients' states after it into got. */
static void pc_run(const fr_fed_options *o, int threads, pc_toy *t, float got[PC_CLIENTS][PC_MOST],
                   fr_fed_round *out)
{
    fr_pool *pool = NULL;
    fr_fed *f = NULL;
    CHECK_OK(fr_pool_create(threads, &pool));
    CHECK_OK(fr_fed_create_per_client(o, PC_CLIENTS, pool, &pc_ops, &pc_vops, t, &f));
    if (!f) {
        fr_pool_destroy(pool);
        return;
    }
    fr_fed_state *st = fr_fed_state_of(f);
    for (size_t c = 0; c < PC_CLIENTS; c++)
        for (size_t i = 0; i < pc_n[c]; i++)
            st->client[c][i] = (float)(100 * c + i + 1);
    CHECK_OK(fr_fed_clients_start(f));
    /* The start: every unit as client 0 has it; local values their own. */
    static const float start1[11] = {1, 2, 3, 4, 5, 6, 7, 8, 109, 10, 11}, start2[7] = {201, 1, 2, 5, 6, 7, 8};
    CHECK(same(st->client[1], start1, 11) && same(st->client[2], start2, 7) && same(t->loaded[2], start2, 7) &&
              t->loads[0] == 1 && t->loads[1] == 1 && t->loads[2] == 1,
          "the server's start: client 1 %g %g .. %g, client 2 %g %g %g (loads %zu %zu %zu)",
          (double)st->client[1][0], (double)st->client[1][1], (double)st->client[1][8], (double)st->client[2][0],
          (double)st->client[2][1], (double)st->client[2][3], t->loads[0], t->loads[1], t->loads[2]);
    CHECK_OK(fr_fed_run_round(f, 0, out));
    for (size_t c = 0; c < PC_CLIENTS; c++) {
        memcpy(got[c], st->client[c], pc_n[c] * sizeof(float));
        const fr_fed_upload *up = fr_fed_upload_of(f, c);
        CHECK(up && up->trained, "client %zu has no upload", c);
    }
    fr_fed_free(f);
    fr_pool_destroy(pool);
}

static void per_client(void)
{
    fr_fed_options o;
    options(&o);
    o.temperature = 1.0;
    pc_toy t;
    float got[PC_CLIENTS][PC_MOST], two[PC_CLIENTS][PC_MOST];
    fr_fed_round r;

    /* Everyone arrives. A: the sample-weighted mean (1/4, 1/4, 1/2) of
     * (1, 2), (3, 4), (-0.5, 2) = (0.75, 2.5) on every holder. B: PCGrad,
     * (1, 0) and (-1, 1) conflict: (1, 0) + 0.5 (-1, 1) = (0.5, 0.5) and
     * (-1, 1) + (1, 0) = (0, 1), 2 projections; their mean (0.25, 0.75).
     * C, row by row over who changed the row: row 0 clients 0 and 1,
     * ((1 + 3) / 2, (1 - 1) / 2) = (2, 0); row 1 clients 1 and 2 (weights
     * 1, 2): ((2 - 2) / 3, (2 + 1) / 3) = (0, 1). P: cos = 0 between
     * (1, 0) and (0, 1), 1 with itself: a_00 = e / (e + 1) = 1 / (1 + 1/e),
     * a_01 = 1 / (e + 1). Local values keep their training: +7, +0.5, +3. */
    memset(&t, 0, sizeof t);
    t.nan_client = -1;
    pc_run(&o, 1, &t, got, &r);
    double a00 = 1.0 / (1.0 + exp(-1.0)), a01 = exp(-1.0) / (1.0 + exp(-1.0));
    float want0[11] = {1.75f, 4.5f, 3.25f, 4.75f, 7, 6, 7, 9, 16, (float)(10.0 + a00), (float)(11.0 + a01)};
    float want1[11] = {1.75f, 4.5f, 3.25f, 4.75f, 7, 6, 7, 9, 109.5f, (float)(10.0 + a01), (float)(11.0 + a00)};
    float want2[7] = {204, 1.75f, 4.5f, 7, 6, 7, 9};
    CHECK(same(got[0], want0, 11) && same(got[1], want1, 11) && same(got[2], want2, 7),
          "per-client units: client 0 A %.9g %.9g B %.9g %.9g C %g %g %g %g local %g P %.9g %.9g; client 2 %g %.9g %.9g %g %g %g %g",
          (double)got[0][0], (double)got[0][1], (double)got[0][2], (double)got[0][3], (double)got[0][4],
          (double)got[0][5], (double)got[0][6], (double)got[0][7], (double)got[0][8], (double)got[0][9],
          (double)got[0][10], (double)got[2][0], (double)got[2][1], (double)got[2][2], (double)got[2][3],
          (double)got[2][4], (double)got[2][5], (double)got[2][6]);
    CHECK(same(t.loaded[0], want0, 11) && same(t.loaded[2], want2, 7) && t.loads[1] == 2,
          "per-client units: what the clients were given is not their new state");
    /* Bytes: A and B 8 each, C 12 per changed row (values and id), P 8. */
    CHECK(r.participants == 3 && r.rejected == 0 && r.aggregated && r.conflicts == 2 &&
              r.bytes_up == 36 + 48 + 20 && r.train_loss == 1.0,
          "per-client round: %zu participants, %zu refused, aggregated %d, %zu conflicts, %llu bytes, loss %g",
          r.participants, r.rejected, r.aggregated, r.conflicts, (unsigned long long)r.bytes_up, r.train_loss);
    memset(&t, 0, sizeof t);
    t.nan_client = -1;
    pc_run(&o, 2, &t, two, &r);
    CHECK(same(got[0], two[0], 11) && same(got[1], two[1], 11) && same(got[2], two[2], 7),
          "per-client units differ on 2 threads");

    /* Client 1's update is NaN: refused, not loaded, its state kept; B and
     * P are left to client 0 alone (its training kept); A over clients 0
     * and 2 (1/3, 2/3): (1/3 - 1/3, 2/3 + 4/3) = (0, 2); C row 0 client 0's
     * (1, 1), row 1 client 2's (-1, 0.5). */
    memset(&t, 0, sizeof t);
    t.nan_client = 1;
    pc_run(&o, 1, &t, got, &r);
    static const float start1[11] = {1, 2, 3, 4, 5, 6, 7, 8, 109, 10, 11};
    float nan0[11] = {1, 4, 4, 4, 6, 7, 6, 8.5f, 16, 11, 11}, nan2[7] = {204, 1, 4, 6, 7, 6, 8.5f};
    CHECK(same(got[0], nan0, 11) && same(got[1], start1, 11) && same(got[2], nan2, 7) && t.loads[1] == 1,
          "a refused client: client 0 A %g %g B %g %g C %g %g %g %g P %g %g; client 1 loaded %zu times",
          (double)got[0][0], (double)got[0][1], (double)got[0][2], (double)got[0][3], (double)got[0][4],
          (double)got[0][5], (double)got[0][6], (double)got[0][7], (double)got[0][9], (double)got[0][10],
          t.loads[1]);
    CHECK(r.participants == 2 && r.rejected == 1 && r.aggregated && r.conflicts == 0 && r.bytes_up == 20 + 20,
          "a refused client: %zu participants, %zu refused, %zu conflicts, %llu bytes", r.participants, r.rejected,
          r.conflicts, (unsigned long long)r.bytes_up);

    /* Local only: the clients train, nothing is combined or given back. */
    o.local_only = 1;
    memset(&t, 0, sizeof t);
    t.nan_client = -1;
    pc_run(&o, 1, &t, got, &r);
    CHECK(same(got[1], start1, 11) && t.loads[0] == 1 && !r.aggregated && r.participants == 3 && r.bytes_up == 0,
          "local only: aggregated %d, client 0 loaded %zu times", r.aggregated, t.loads[0]);

    /* What per-client state does not take. */
    o.local_only = 0;
    o.aggregator = FR_AGG_MEDIAN;
    fr_pool *pool = NULL;
    fr_fed *f = NULL;
    CHECK_OK(fr_pool_create(1, &pool));
    CHECK(fr_fed_create_per_client(&o, PC_CLIENTS, pool, &pc_ops, &pc_vops, &t, &f) == FR_ERR_INVALID && !f,
          "per-client state with the median was accepted");
    options(&o);
    CHECK(fr_fed_create_per_client(&o, PC_CLIENTS, pool, &pc_ops, &pc_vops, &t, &f) == FR_ERR_INVALID && !f,
          "per-client state without a temperature was accepted");
    fr_pool_destroy(pool);
}

int main(void)
{
    fr_fed_options o;
    toy t;
    float table[ROWS * WIDTH], dense[DENSE], want[ROWS * WIDTH], want_dense[DENSE], two[ROWS * WIDTH],
        two_dense[DENSE];
    fr_fed_round last;

    /* The mean and the weighted mean, 1 and 2 threads. */
    for (int weighted = 0; weighted <= 1; weighted++) {
        options(&o);
        o.weighted = weighted;
        memset(&t, 0, sizeof t);
        t.nan_client = t.bad_client = t.misgrouped_client = -1;
        run(&o, 1, 3, &t, table, dense, &last);
        expect_mean(weighted, 3, -1, want, want_dense);
        CHECK(same(table, want, ROWS * WIDTH) && same(dense, want_dense, DENSE),
              "%s mean: the table is not the client-order sum", weighted ? "weighted" : "plain");
        CHECK(t.round_begun == 3, "round_begin saw round %u last, expected 2 (+1)", t.round_begun - 1);
        CHECK(last.clients == CLIENTS && last.participants == CLIENTS && last.aggregated && last.rejected == 0,
              "round counts: %zu clients, %zu participants, aggregated %d", last.clients, last.participants,
              last.aggregated);
        CHECK_NEAR(last.train_loss, (CLIENTS - 1) / (double)(CLIENTS + 1), 1e-12); /* sum c / sum (c + 1) */
        run(&o, 2, 3, &t, two, two_dense, &last);
        CHECK(same(table, two, ROWS * WIDTH) && same(dense, two_dense, DENSE), "the mean differs on 2 threads");
    }

    /* The per-row mean with a server step: streaming on one thread, summed
     * after the round on two. */
    options(&o);
    o.aggregator = FR_AGG_ROW_MEAN;
    o.server_lr = 0.75f;
    memset(&t, 0, sizeof t);
    t.nan_client = t.bad_client = t.misgrouped_client = -1;
    run(&o, 1, 3, &t, table, dense, &last);
    expect_row_mean(0.75f, 3, want, want_dense);
    CHECK(same(table, want, ROWS * WIDTH) && same(dense, want_dense, DENSE),
          "per-row mean (one thread, folded as uploads come) is not the expected sum");
    run(&o, 2, 3, &t, two, two_dense, &last);
    CHECK(same(two, want, ROWS * WIDTH) && same(two_dense, want_dense, DENSE),
          "per-row mean (two threads, summed after the round) is not the expected sum");
    /* Not aggregated (a quorum above the clients): the table stays, and the
     * next round's sums do not carry this one's. */
    o.participation.min_clients = CLIENTS + 1;
    run(&o, 1, 2, &t, table, dense, &last);
    initial(want, want_dense);
    CHECK(same(table, want, ROWS * WIDTH) && !last.aggregated, "a round short of its quorum changed the table");

    /* A client whose update is NaN, or that sends a row out of the table,
     * or rows outside the groups it claims, is refused, the others
     * aggregated. */
    for (int kind = 0; kind < 3; kind++) {
        options(&o);
        memset(&t, 0, sizeof t);
        t.nan_client = t.bad_client = t.misgrouped_client = -1;
        if (kind == 0)
            t.nan_client = 4;
        else if (kind == 1)
            t.bad_client = 4;
        else
            t.misgrouped_client = 4;
        run(&o, 2, 1, &t, table, dense, &last);
        expect_mean(0, 1, 4, want, want_dense);
        const char *what = kind == 0 ? "NaN" : kind == 1 ? "out of range" : "out of its groups";
        CHECK(last.rejected == 1 && last.participants == CLIENTS - 1, "%s client: %zu rejected, %zu participants",
              what, last.rejected, last.participants);
        /* Folded in order, the refusal is met after the other uploads
         * were folded at 1 / 23: the mean is rescaled, rounding once more
         * (fed_ordered.c). A refused update that reached the table, or a
         * mean left at 1 / 23, moves rows by 1e-3 and more. */
        CHECK(last_ordered && near(table, want, ROWS * WIDTH, 2e-6) && near(dense, want_dense, DENSE, 2e-6),
              "the refused (%s) client's update reached the table", what);
    }
    /* The ordered fold keeps no upload's buffers past its fold: a round
     * of 23 clients on 2 threads ends with none held, where the median
     * (which needs them all) holds every one. The same bits as the
     * mean the test sums, on 1 and 2 threads (above). */
    options(&o);
    memset(&t, 0, sizeof t);
    t.nan_client = t.bad_client = t.misgrouped_client = -1;
    run(&o, 2, 2, &t, table, dense, &last);
    CHECK(last_ordered && last_held == 0, "plain mean: ordered %d, %zu uploads still held", last_ordered,
          last_held);
    /* Threads held back to one upload ahead of the fold (they wait, and
     * fold what is ready as they wait): the same bits, no deadlock, on 2
     * and 3 threads. */
    float want_w[ROWS * WIDTH], want_dw[DENSE];
    expect_mean(0, 2, -1, want_w, want_dw);
    CHECK(same(table, want_w, ROWS * WIDTH) && same(dense, want_dw, DENSE), "plain mean, folded in order: not the expected sum");
    fold_window = 1;
    for (int threads = 2; threads <= 3; threads++) {
        run(&o, threads, 2, &t, table, dense, &last);
        CHECK(last_ordered && same(table, want_w, ROWS * WIDTH) && same(dense, want_dw, DENSE),
              "plain mean, %d threads held one upload ahead of the fold: not the expected sum", threads);
    }
    fold_window = 0;
    o.aggregator = FR_AGG_MEDIAN;
    run(&o, 2, 1, &t, table, dense, &last);
    CHECK(!last_ordered && last_held == CLIENTS, "median: ordered %d, %zu uploads held, expected %d",
          last_ordered, last_held, CLIENTS);

    /* Clipping: every update scaled to norm <= 1e-3 moves the table less
     * than the clients' norms allow. */
    options(&o);
    o.clip_norm = 1e-3;
    memset(&t, 0, sizeof t);
    t.nan_client = t.bad_client = t.misgrouped_client = -1;
    run(&o, 1, 1, &t, table, dense, &last);
    initial(want, want_dense);
    double moved = 0;
    for (size_t i = 0; i < ROWS * WIDTH; i++)
        moved += fabs((double)table[i] - want[i]);
    for (size_t i = 0; i < DENSE; i++)
        moved += fabs((double)dense[i] - want_dense[i]);
    CHECK(moved > 0 && moved <= 1e-3 * sqrt((double)(2 * WIDTH + DENSE)) * 1.0001, "clipped round moved %g", moved);

    /* A fraction of the clients: round(0.3 x 23) = 7 a round. */
    options(&o);
    o.client_fraction = 0.3;
    run(&o, 2, 1, &t, table, dense, &last);
    CHECK(last.clients == 7 && last.participants == 7, "sampled %zu clients, expected 7", last.clients);

    /* Shared personal values: each sampled client starts from the mean of
     * all, every client ends with the participants' mean. */
    options(&o);
    o.share_personal = 1;
    memset(&t, 0, sizeof t);
    t.nan_client = t.bad_client = t.misgrouped_client = -1;
    for (size_t c = 0; c < CLIENTS; c++) {
        t.personal[c][0] = (float)c;
        t.personal[c][1] = 1.0f;
    }
    run(&o, 1, 1, &t, table, dense, &last);
    float m0 = 0, m1 = 0; /* the means of all, in client order */
    for (size_t c = 0; c < CLIENTS; c++) {
        m0 += (float)c / (float)CLIENTS;
        m1 += 1.0f / (float)CLIENTS;
    }
    float m_end = 0, m1_end = 0; /* of the participants, who all start from m0, m1 */
    for (size_t c = 0; c < CLIENTS; c++) {
        m_end += m0 / (float)CLIENTS;
        m1_end += m1 / (float)CLIENTS;
    }
    for (size_t c = 0; c < CLIENTS; c++)
        CHECK(t.personal[c][0] == m_end && t.personal[c][1] == m1_end,
              "client %zu's personal values %.9g %.9g (expected %.9g %.9g)", c, (double)t.personal[c][0],
              (double)t.personal[c][1], (double)m_end, (double)m1_end);

    /* Bad options are refused. */
    options(&o);
    o.aggregator = FR_AGG_ROW_MEAN; /* no server step */
    fr_pool *pool = NULL;
    fr_fed *f = NULL;
    CHECK_OK(fr_pool_create(1, &pool));
    CHECK(fr_fed_create(&o, CLIENTS, ROWS, WIDTH, 0, pool, &toy_ops, &t, &f) == FR_ERR_INVALID,
          "a per-row mean without a server learning rate was accepted");
    options(&o);
    o.client_fraction = 0;
    CHECK(fr_fed_create(&o, CLIENTS, ROWS, WIDTH, 0, pool, &toy_ops, &t, &f) == FR_ERR_INVALID,
          "a client fraction of 0 was accepted");
    fr_fed_free(f);
    fr_pool_destroy(pool);

    per_client();
    return fr_test_finish("test_fed_core");
}
