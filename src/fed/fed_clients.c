/* fed_clients.c — the federation core's rounds over per-client state
 * (fr_fed_create_per_client; PF-MSMTrec and its baselines): every
 * client has its own vector, cut into federated units (fedrec/fed_client.h).
 *
 * After a round's training and records (every rank holds every arrival's
 * trained vector), on every rank alike: each arrival's update — the change
 * of the units it shares with another arrival — is screened as one flat
 * vector (faults, refusal when not finite, the clip: fr_fed_screen_values);
 * what the server then sees is written back into its trained vector (a
 * refused client's whole, a changed one's on the units still shared once
 * the refused are out). Then each group of units of one key over the
 * participants is combined: delta_i = trained_i - received_i, PCGrad across
 * the members when asked, weights (mean or personal), and member i gets
 * received_i + sum_j a_ij d_j on that unit (a table unit: each row the
 * sample-weighted mean over the members that changed it). A participant's
 * vector — the combined units, its trained values elsewhere — becomes what
 * it received and is loaded into its model. A unit only one participant
 * holds is not combined: that client keeps what it trained. Every sum runs
 * in client order, so nothing depends on the threads or ranks. */
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fed/fed_internal.h"
#include "fed/fed_personal.h"
#include "fedrec/rng.h"

/* ---- units ----------------------------------------------------------------- */

static void unit_gather(const fr_fed_unit *u, const float *flat, float *out)
{
    for (size_t s = 0; s < u->n_seg; s++) {
        const fr_fed_seg *g = &u->seg[s];
        for (size_t r = 0; r < g->rows; r++) {
            memcpy(out, flat + g->off + r * g->ld, g->cols * sizeof *out);
            out += g->cols;
        }
    }
}

static void unit_scatter(const fr_fed_unit *u, const float *in, float *flat)
{
    for (size_t s = 0; s < u->n_seg; s++) {
        const fr_fed_seg *g = &u->seg[s];
        for (size_t r = 0; r < g->rows; r++) {
            memcpy(flat + g->off + r * g->ld, in, g->cols * sizeof *in);
            in += g->cols;
        }
    }
}

/* Whether every segment of u lies inside n values. */
static int unit_fits(const fr_fed_unit *u, size_t n)
{
    size_t numel = 0;
    for (size_t s = 0; s < u->n_seg; s++) {
        const fr_fed_seg *g = &u->seg[s];
        if (g->rows && g->cols && (g->cols > g->ld || g->off + (g->rows - 1) * g->ld + g->cols > n))
            return 0;
        numel += g->rows * g->cols;
    }
    return numel == u->numel && (!u->by_rows || u->n_seg == 1);
}

fr_status fr_fed_clients_ready(fr_fed *p)
{
    const fr_fed_vector_ops *ops = &p->vops;
    if (!ops->client_values || !ops->client_units || !ops->client_load || p->ops->train_cohort)
        return fr_fail(FR_ERR_INVALID, "federation: per-client state needs client_values, client_units and client_load, and clients trained one by one");
    if (p->st.n_rows || p->st.n_dense)
        return fr_fail(FR_ERR_INVALID, "federation: per-client state has no shared table or dense part");
    if (p->n_clients > FR_FED_MAX_GROUP)
        return fr_fail(FR_ERR_INVALID, "federation: per-client state takes at most %d clients (got %zu)",
                       FR_FED_MAX_GROUP, p->n_clients);
    const fr_fed_options *o = &p->o;
    if (o->aggregator != FR_AGG_MEAN || o->weighted || o->share_personal || o->secure_agg || o->dp_noise > 0 ||
        o->local_noise > 0 || !(o->temperature > 0))
        return fr_fail(FR_ERR_INVALID, "federation: per-client state combines units by their own rules: no aggregator, weighting, shared personal values, noise or secure aggregation, and a temperature > 0 (got %g)",
                       o->temperature);
    size_t n = p->n_clients;
    p->st.client = calloc(n, sizeof *p->st.client);
    p->st.client_n = calloc(n, sizeof *p->st.client_n);
    p->units = calloc(n, sizeof *p->units);
    p->n_units = calloc(n, sizeof *p->n_units);
    if (!p->st.client || !p->st.client_n || !p->units || !p->n_units)
        return fr_fail_nomem("per-client state", n * 32);
    for (size_t c = 0; c < n; c++) {
        size_t v = ops->client_values(p->model, c);
        p->st.client_n[c] = v;
        if (!(p->st.client[c] = calloc(v ? v : 1, sizeof(float))))
            return fr_fail_nomem("a client's vector", v * sizeof(float));
        p->units[c] = ops->client_units(p->model, c, &p->n_units[c]);
        if (p->n_units[c] > p->max_units)
            p->max_units = p->n_units[c];
        for (size_t u = 0; u < p->n_units[c]; u++)
            if (!unit_fits(&p->units[c][u], v))
                return fr_fail(FR_ERR_INVALID, "federation: client %zu's unit %zu (key %u) lies outside its %zu values or is not one table",
                               c, u, (unsigned)p->units[c][u].key, v);
    }
    return FR_OK;
}

void fr_fed_clients_free(fr_fed *p)
{
    for (size_t c = 0; p->st.client && c < p->n_clients; c++)
        free(p->st.client[c]);
    free(p->st.client);
    free(p->st.client_n);
    free(p->units);
    free(p->n_units);
}

fr_status fr_fed_clients_values(fr_fed *p, size_t k)
{
    fr_fed_upload *o = &p->outs[k];
    size_t n = p->st.client_n[p->sampled[k]];
    if (o->cap_values < n || !o->values) {
        float *v = realloc(o->values, (n ? n : 1) * sizeof *v);
        if (!v)
            return fr_fail_nomem("a client's trained vector", n * sizeof *v);
        o->values = v;
        o->cap_values = n;
    }
    return FR_OK;
}

/* ---- groups ---------------------------------------------------------------- */

/* The members holding units of one key: slot i (an index into the caller's
 * list) and its unit. */
typedef struct group {
    uint32_t key;
    size_t n;
    size_t *slot;
    const fr_fed_unit **unit;
} group;

typedef struct groups {
    group *g;
    size_t n;
    size_t *slots;
    const fr_fed_unit **units;
} groups;

static void groups_free(groups *gs)
{
    free(gs->g);
    free(gs->slots);
    free(gs->units);
    memset(gs, 0, sizeof *gs); /* freed again harmlessly */
}

/* The groups of the n_slots slots with in[i] set (client client_of[i]),
 * in the order their keys first appear, members in slot order. */
static fr_status find_groups(const fr_fed *p, size_t n_slots, const size_t *client_of, const unsigned char *in,
                             groups *gs)
{
    memset(gs, 0, sizeof *gs);
    size_t cap = 0;
    for (size_t i = 0; i < n_slots; i++)
        cap += in[i] ? p->n_units[client_of[i]] : 0;
    gs->g = malloc((cap ? cap : 1) * sizeof *gs->g);
    gs->slots = malloc((cap ? cap : 1) * (n_slots ? n_slots : 1) * sizeof *gs->slots);
    gs->units = malloc((cap ? cap : 1) * (n_slots ? n_slots : 1) * sizeof *gs->units);
    if (!gs->g || !gs->slots || !gs->units) {
        groups_free(gs);
        return fr_fail_nomem("aggregation groups", cap * n_slots * 16);
    }
    for (size_t i = 0; i < n_slots; i++) {
        size_t c = client_of[i];
        for (size_t u = 0; in[i] && u < p->n_units[c]; u++) {
            const fr_fed_unit *fu = &p->units[c][u];
            size_t g = 0;
            while (g < gs->n && gs->g[g].key != fu->key)
                g++;
            if (g == gs->n) {
                gs->g[g].key = fu->key;
                gs->g[g].n = 0;
                gs->g[g].slot = gs->slots + g * n_slots;
                gs->g[g].unit = gs->units + g * n_slots;
                gs->n++;
            }
            gs->g[g].slot[gs->g[g].n] = i;
            gs->g[g].unit[gs->g[g].n++] = fu;
        }
    }
    return FR_OK;
}

/* shared[i * max_units + u]: unit u of slot i is combined with another's
 * (its group has more than one member among the slots in in). */
static fr_status shared_units(const fr_fed *p, size_t n_slots, const size_t *client_of, const unsigned char *in,
                              unsigned char *shared)
{
    groups gs;
    FR_TRY(find_groups(p, n_slots, client_of, in, &gs));
    memset(shared, 0, n_slots * p->max_units);
    for (size_t g = 0; g < gs.n; g++)
        for (size_t i = 0; gs.g[g].n > 1 && i < gs.g[g].n; i++) {
            size_t s = gs.g[g].slot[i];
            shared[s * p->max_units + (size_t)(gs.g[g].unit[i] - p->units[client_of[s]])] = 1;
        }
    groups_free(&gs);
    return FR_OK;
}

/* The round's sampled clients, as slots. */
static fr_status sample_slots(const fr_fed *p, size_t **client_of, unsigned char **in)
{
    size_t n = p->n_sampled;
    *client_of = malloc((n ? n : 1) * sizeof **client_of);
    *in = calloc(n ? n : 1, 1);
    if (!*client_of || !*in) {
        free(*client_of);
        free(*in);
        return fr_fail_nomem("the round's clients", n * 9);
    }
    for (size_t k = 0; k < n; k++)
        (*client_of)[k] = (size_t)p->sampled[k];
    return FR_OK;
}

/* ---- the server's start ------------------------------------------------------ */

fr_status fr_fed_clients_start(fr_fed *p)
{
    size_t n = p->n_clients;
    size_t *client_of = malloc(n * sizeof *client_of);
    unsigned char *in = malloc(n);
    groups gs = {0};
    fr_status s = client_of && in ? FR_OK : fr_fail_nomem("the clients", n * 9);
    for (size_t c = 0; s == FR_OK && c < n; c++) {
        client_of[c] = c;
        in[c] = 1;
    }
    if (s == FR_OK)
        s = find_groups(p, n, client_of, in, &gs);
    for (size_t g = 0; s == FR_OK && g < gs.n; g++) {
        const group *gr = &gs.g[g];
        float *v = malloc((gr->unit[0]->numel ? gr->unit[0]->numel : 1) * sizeof *v);
        if (!v) {
            s = fr_fail_nomem("initial model", gr->unit[0]->numel * sizeof *v);
            break;
        }
        unit_gather(gr->unit[0], p->st.client[gr->slot[0]], v);
        for (size_t i = 1; i < gr->n; i++)
            if (gr->unit[i]->numel == gr->unit[0]->numel)
                unit_scatter(gr->unit[i], v, p->st.client[gr->slot[i]]);
        free(v);
    }
    for (size_t c = 0; s == FR_OK && c < n; c++)
        s = p->vops.client_load(p->model, c, p->st.client[c]);
    groups_free(&gs);
    free(client_of);
    free(in);
    return s;
}

/* ---- screening ----------------------------------------------------------------- */

fr_status fr_fed_clients_screen(fr_fed *p)
{
    size_t n = p->n_sampled, mu = p->max_units ? p->max_units : 1;
    size_t *client_of;
    unsigned char *in;
    FR_TRY(sample_slots(p, &client_of, &in));
    unsigned char *arrived = malloc(n * mu), *still = malloc(n * mu);
    float **seen = calloc(n ? n : 1, sizeof *seen); /* received + the screened change */
    int *verdict = calloc(n ? n : 1, sizeof *verdict);
    fr_status s = arrived && still && seen && verdict ? FR_OK : fr_fail_nomem("screening", n * mu * 2);
    for (size_t k = 0; k < n; k++)
        in[k] = (unsigned char)(p->outs[k].trained && !p->outs[k].late);
    if (s == FR_OK)
        s = shared_units(p, n, client_of, in, arrived);
    for (size_t k = 0; s == FR_OK && k < n; k++) {
        if (!in[k])
            continue;
        size_t c = client_of[k], m = 0;
        const fr_fed_unit *units = p->units[c];
        const float *after = p->outs[k].values, *received = p->st.client[c];
        for (size_t u = 0; u < p->n_units[c]; u++)
            m += arrived[k * mu + u] ? units[u].numel : 0;
        float *d = malloc((m ? m : 1) * sizeof *d), *mine = malloc((m ? m : 1) * sizeof *mine);
        if (!d || !mine) {
            free(d);
            free(mine);
            s = fr_fail_nomem("screening a client's update", m * 8);
            break;
        }
        for (size_t u = 0, at = 0; u < p->n_units[c]; u++) {
            if (!arrived[k * mu + u])
                continue;
            unit_gather(&units[u], after, d + at);
            unit_gather(&units[u], received, mine + at);
            for (size_t q = 0; q < units[u].numel; q++)
                d[at + q] -= mine[at + q];
            at += units[u].numel;
        }
        verdict[k] = fr_fed_screen_values(p->o.seed, p->round + 1, c, p->o.fault_nan, p->o.fault_huge,
                                          p->o.clip_norm, d, m);
        if (verdict[k] == 0) /* left out; its model keeps what it trained */
            p->outs[k].rejected = 1;
        for (size_t q = 0; q < m; q++)
            d[q] += mine[q];
        free(mine);
        seen[k] = d;
    }
    for (size_t k = 0; k < n; k++)
        in[k] = (unsigned char)fr_fed_participates(&p->outs[k]);
    if (s == FR_OK)
        s = shared_units(p, n, client_of, in, still);
    for (size_t k = 0; s == FR_OK && k < n; k++) {
        size_t c = client_of[k];
        if (!seen[k] || verdict[k] == 1) /* late, or as it came */
            continue;
        for (size_t u = 0, at = 0; u < p->n_units[c]; u++) {
            if (!arrived[k * mu + u])
                continue;
            if (verdict[k] == 0 || still[k * mu + u])
                unit_scatter(&p->units[c][u], seen[k] + at, p->outs[k].values);
            at += p->units[c][u].numel;
        }
    }
    for (size_t k = 0; seen && k < n; k++)
        free(seen[k]);
    free(seen);
    free(verdict);
    free(arrived);
    free(still);
    free(client_of);
    free(in);
    return s;
}

/* ---- aggregation ---------------------------------------------------------------- */

/* A permutation of the members other than i for each i, drawn from
 * stream (seed, round key, group key, COORDINATION). */
static void draw_orders(uint64_t seed, unsigned round_key, uint32_t key, size_t n, size_t *store, size_t **order)
{
    fr_rng rng;
    fr_rng_init(&rng, seed, round_key, key, FR_RNG_COORDINATION);
    for (size_t i = 0; i < n; i++) {
        order[i] = store + i * (n ? n - 1 : 0);
        size_t k = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i)
                order[i][k++] = j;
        for (size_t a = k; a > 1; a--) {
            size_t b = fr_rng_below(&rng, (uint32_t)a);
            size_t x = order[i][a - 1];
            order[i][a - 1] = order[i][b];
            order[i][b] = x;
        }
    }
}

/* One group (slots: sampled indices): the members' trained vectors get the
 * combined values; what each member sent counted in its bytes_up. */
static fr_status aggregate_group(fr_fed *p, const group *g, size_t *conflicts)
{
    size_t n = g->n, dim = g->unit[0]->numel;
    for (size_t i = 1; i < n; i++)
        if (g->unit[i]->numel != dim)
            return fr_fail(FR_ERR_INVALID, "federated unit %u: %zu values on client %d, %zu on client %d",
                           (unsigned)g->key, dim, (int)p->sampled[g->slot[0]], g->unit[i]->numel,
                           (int)p->sampled[g->slot[i]]);
    float *delta = malloc((n * dim > 0 ? n * dim : 1) * sizeof *delta), *coord = NULL;
    float *mine = malloc((dim ? dim : 1) * sizeof *mine);
    double samples[FR_FED_MAX_GROUP], *a = malloc(n * n * sizeof *a);
    size_t *store = malloc(n * n * sizeof *store);
    size_t *order[FR_FED_MAX_GROUP];
    fr_status s = FR_OK;
    if (!delta || !mine || !store || !a)
        s = fr_fail_nomem("aggregation", n * dim * 4);
    const fr_fed_unit *rule = g->unit[0];
    if (s == FR_OK && rule->coordinate && !rule->by_rows) {
        coord = malloc((n * dim > 0 ? n * dim : 1) * sizeof *coord);
        if (!coord)
            s = fr_fail_nomem("coordination", n * dim * 4);
    }
    for (size_t i = 0; s == FR_OK && i < n; i++) {
        size_t k = g->slot[i];
        float *d = delta + i * dim;
        unit_gather(g->unit[i], p->outs[k].values, d);
        unit_gather(g->unit[i], p->st.client[p->sampled[k]], mine);
        for (size_t q = 0; q < dim; q++)
            d[q] -= mine[q];
        samples[i] = (double)p->outs[k].samples;
    }
    if (s == FR_OK && rule->by_rows) {
        /* Row by row over the members that changed the row; a client
         * sends the rows it changed, with their ids. */
        size_t rows = rule->seg[0].rows, cols = rule->seg[0].cols;
        for (size_t i = 0; i < n; i++) {
            size_t k = g->slot[i], changed = 0;
            for (size_t r = 0; r < rows; r++)
                for (size_t q = 0; q < cols; q++)
                    if (delta[i * dim + r * cols + q] != 0.0f) {
                        changed++;
                        break;
                    }
            p->outs[k].bytes_up += changed * (cols * sizeof(float) + sizeof(int32_t));
            unit_gather(g->unit[i], p->st.client[p->sampled[k]], mine);
            fr_fed_apply_rows(delta, n, rows, cols, samples, mine);
            unit_scatter(g->unit[i], mine, p->outs[k].values);
        }
    } else if (s == FR_OK) {
        const float *d = delta;
        if (coord) {
            draw_orders(p->o.seed, p->round + 1, g->key, n, store, order);
            *conflicts += fr_fed_coordinate(delta, n, dim, (const size_t *const *)order, coord);
            d = coord;
        }
        fr_fed_weights(d, n, dim, samples, rule->agg, p->o.temperature, a);
        for (size_t i = 0; i < n; i++) {
            size_t k = g->slot[i];
            p->outs[k].bytes_up += dim * sizeof(float);
            unit_gather(g->unit[i], p->st.client[p->sampled[k]], mine);
            fr_fed_apply(d, n, dim, a, i, mine);
            unit_scatter(g->unit[i], mine, p->outs[k].values);
        }
    }
    free(delta);
    free(coord);
    free(mine);
    free(store);
    free(a);
    return s;
}

fr_status fr_fed_clients_aggregate(fr_fed *p, size_t *conflicts)
{
    size_t *client_of;
    unsigned char *in;
    FR_TRY(sample_slots(p, &client_of, &in));
    for (size_t k = 0; k < p->n_sampled; k++)
        in[k] = (unsigned char)fr_fed_participates(&p->outs[k]);
    groups gs;
    fr_status s = find_groups(p, p->n_sampled, client_of, in, &gs);
    if (s == FR_OK) {
        for (size_t g = 0; s == FR_OK && g < gs.n; g++)
            if (gs.g[g].n > 1)
                s = aggregate_group(p, &gs.g[g], conflicts);
        groups_free(&gs);
    }
    free(client_of);
    free(in);
    return s;
}

fr_status fr_fed_clients_load(fr_fed *p)
{
    fr_status s = FR_OK;
    for (size_t k = 0; s == FR_OK && k < p->n_sampled; k++) {
        const fr_fed_upload *o = &p->outs[k];
        if (!fr_fed_participates(o)) /* keeps what it trained; its next update covers both rounds */
            continue;
        size_t c = (size_t)p->sampled[k];
        s = p->vops.client_load(p->model, c, o->values);
        memcpy(p->st.client[c], o->values, p->st.client_n[c] * sizeof *o->values);
    }
    return s;
}

const fr_fed_upload *fr_fed_upload_of(const fr_fed *p, size_t client)
{
    size_t lo = 0, hi = p->n_sampled;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((size_t)p->sampled[mid] < client)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->n_sampled && (size_t)p->sampled[lo] == client ? &p->outs[lo] : NULL;
}
