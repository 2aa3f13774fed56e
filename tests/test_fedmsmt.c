/* test_fedmsmt.c — federated multi-scenario multi-task training: the
 * server's arithmetic against hand-worked cases (conflict coordination of
 * two opposing updates and of three, aggregation weights of a small case,
 * T -> inf equal to the sample-weighted FedAvg, row-wise embedding means),
 * the parameter template (default counts, an explicit membership, its
 * errors), FedBN's slices never inside a federated unit (and inside one
 * without FedBN), each expert's unit moving that expert's output only, and
 * on small synthetic data: identical results for 1 and
 * 2 threads, no upload without federation, the modules changing the
 * result, option errors, screening (NaN faults refused as the fault
 * stream picks them, huge ones bounded by the clip). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job/fedmsmt_job.h"
#include "fedrec/nn.h"
#include "fedrec/rng.h"
#include "fedrec/table_read.h"
#include "testutil.h"

static int near(double a, double b, double tol)
{
    return fabs(a - b) <= tol;
}

static void coordination(void)
{
    /* Two opposing updates: each is projected on the other's normal plane. */
    const float d2[] = {1, 0, -1, 1};
    size_t o0[] = {1}, o1[] = {0};
    const size_t *order2[] = {o0, o1};
    float out[6];
    fr_fed_coordinate(d2, 2, 2, order2, out);
    /* d1 - (<d1,d2>/|d2|^2) d2 = (1,0) + 0.5 (-1,1); d2 - (<d2,d1>/|d1|^2) d1 = (0,1). */
    CHECK(near(out[0], 0.5, 1e-7) && near(out[1], 0.5, 1e-7) && near(out[2], 0.0, 1e-7) && near(out[3], 1.0, 1e-7),
          "two opposing updates coordinated to (%g %g) (%g %g), expected (0.5 0.5) (0 1)", out[0], out[1], out[2],
          out[3]);
    /* No conflict: unchanged. */
    const float agree[] = {1, 0, 1, 1};
    fr_fed_coordinate(agree, 2, 2, order2, out);
    CHECK(out[0] == 1 && out[1] == 0 && out[2] == 1 && out[3] == 1, "agreeing updates changed");
    /* Three: d0 = (1, 0), d1 = (-1, 1), d2 = (0, -1). For d0 in the order
     * 1, 2: against d1 (conflict) -> (0.5, 0.5); against the original d2
     * (<(0.5,0.5),(0,-1)> = -0.5) -> (0.5, 0). In the order 2, 1: d2 does
     * not conflict with (1, 0); d1 does -> (0.5, 0.5). */
    const float d3[] = {1, 0, -1, 1, 0, -1};
    size_t a12[] = {1, 2}, a21[] = {2, 1}, b[] = {0, 2}, c[] = {0, 1};
    const size_t *order_a[] = {a12, b, c}, *order_b[] = {a21, b, c};
    float out3[6];
    fr_fed_coordinate(d3, 3, 2, order_a, out3);
    CHECK(near(out3[0], 0.5, 1e-7) && near(out3[1], 0.0, 1e-7), "three clients, order 1 2: d0 -> (%g %g), expected (0.5 0)",
          out3[0], out3[1]);
    fr_fed_coordinate(d3, 3, 2, order_b, out3);
    CHECK(near(out3[0], 0.5, 1e-7) && near(out3[1], 0.5, 1e-7),
          "three clients, order 2 1: d0 -> (%g %g), expected (0.5 0.5)", out3[0], out3[1]);
}

static void weights(void)
{
    /* d0 = (1,0), d1 = (0,1), d2 = (2,0); samples 1, 1, 2; T = 1: row 0
     * has cosines 1, 0, 1 -> a ~ (e, 1, 2e) / (3e + 1). */
    const float d[] = {1, 0, 0, 1, 2, 0};
    const double n[] = {1, 1, 2};
    double a[9];
    fr_fed_weights(d, 3, 2, n, FR_FED_AGG_PERSONAL, 1.0, a);
    double e = exp(1.0), z = 3 * e + 1;
    CHECK(near(a[0], e / z, 1e-12) && near(a[1], 1 / z, 1e-12) && near(a[2], 2 * e / z, 1e-12),
          "personal weights of client 0: %g %g %g, expected %g %g %g", a[0], a[1], a[2], e / z, 1 / z, 2 * e / z);
    /* Row 1: cosines 0, 1, 0 -> (1, e, 2) / (3 + e). */
    CHECK(near(a[3], 1 / (3 + e), 1e-12) && near(a[4], e / (3 + e), 1e-12), "personal weights of client 1: %g %g",
          a[3], a[4]);
    double m[9];
    fr_fed_weights(d, 3, 2, n, FR_FED_AGG_MEAN, 1.0, m);
    for (int i = 0; i < 3; i++)
        CHECK(m[3 * i] == 0.25 && m[3 * i + 1] == 0.25 && m[3 * i + 2] == 0.5, "mean weights of client %d", i);
    /* T -> inf: the sample-weighted mean. */
    fr_fed_weights(d, 3, 2, n, FR_FED_AGG_PERSONAL, 1e12, a);
    for (int k = 0; k < 9; k++)
        CHECK(near(a[k], m[k], 1e-9), "T = 1e12: weight %d is %g, FedAvg's %g", k, a[k], m[k]);
    /* A zero update has cosine 0 with everything. */
    const float dz[] = {0, 0, 1, 0};
    const double n2[] = {1, 1};
    fr_fed_weights(dz, 2, 2, n2, FR_FED_AGG_PERSONAL, 1.0, a);
    CHECK(near(a[0], 0.5, 1e-12) && near(a[2], 1 / (1 + e), 1e-12), "zero update: weights %g %g", a[0], a[2]);
    /* Applying: received + sum_j a_ij d_j. */
    float recv[2] = {10, 20};
    fr_fed_weights(d, 3, 2, n, FR_FED_AGG_MEAN, 1.0, m);
    fr_fed_apply(d, 3, 2, m, 0, recv);
    CHECK(near(recv[0], 10 + 0.25 + 1.0, 1e-6) && near(recv[1], 20.25, 1e-6), "applied mean: %g %g", recv[0],
          recv[1]);
    /* Embedding rows: row 0 changed by clients 0 and 2 (weights 1, 2),
     * row 1 by client 1 only, row 2 by nobody. */
    const float rows[] = {/* client 0 */ 3, 3, 0, 0, 0, 0, /* client 1 */ 0, 0, 4, -4, 0, 0,
                          /* client 2 */ 6, 0, 0, 0, 0, 0};
    float emb[6] = {1, 1, 1, 1, 1, 1};
    fr_fed_apply_rows(rows, 3, 3, 2, n, emb);
    CHECK(near(emb[0], 1 + (3 + 12) / 3.0, 1e-6) && near(emb[1], 1 + 3 / 3.0, 1e-6) && near(emb[2], 5, 1e-6) &&
              near(emb[3], -3, 1e-6) && emb[4] == 1 && emb[5] == 1,
          "row-wise mean: %g %g | %g %g | %g %g", emb[0], emb[1], emb[2], emb[3], emb[4], emb[5]);
}

static void template_cases(void)
{
    fr_fedmsmt_options o;
    fr_fedmsmt_options_default(&o);
    o.shared_experts = 2;
    o.private_experts = 1;
    fed_template tp;
    CHECK_OK(fr_fedmsmt_template_make(&o, 3, &tp));
    CHECK(tp.pool == 5 && tp.held[1] == 3 && tp.member[1][0] && tp.member[1][1] && !tp.member[1][2] &&
              tp.member[1][3] && !tp.member[1][4] && tp.local_of[1][3] == 2 && tp.members[0] == 3 &&
              tp.members[3] == 1,
          "default template of 3 clients, 2 shared + 1 private");
    o.method = FR_FED_FEDAVG;
    CHECK_OK(fr_fedmsmt_template_make(&o, 3, &tp));
    CHECK(tp.pool == 3 && tp.held[2] == 3 && tp.members[2] == 3 && !tp.bn_local, "FedAvg: 3 experts, all shared");
    o.method = FR_FED_PFMSMTREC;
    CHECK_OK(fr_fedmsmt_parse_membership("1100; 0110;0011", 3, &o));
    CHECK_OK(fr_fedmsmt_template_make(&o, 3, &tp));
    CHECK(tp.pool == 4 && tp.held[0] == 2 && tp.members[1] == 2 && tp.members[0] == 1 && tp.local_of[2][3] == 1,
          "explicit membership");
    CHECK(fr_fedmsmt_parse_membership("1100;012", 2, &o) == FR_ERR_INVALID &&
              strstr(fr_last_error(), "row 2, column 3"),
          "a bad membership digit: %s", fr_last_error());
    CHECK(fr_fedmsmt_parse_membership("1100;011", 2, &o) == FR_ERR_INVALID && strstr(fr_last_error(), "row 2"),
          "rows of unequal length: %s", fr_last_error());
    CHECK(fr_fedmsmt_parse_membership("11;01", 3, &o) == FR_ERR_INVALID && strstr(fr_last_error(), "3 clients"),
          "too few rows: %s", fr_last_error());
    CHECK_OK(fr_fedmsmt_parse_membership("11;00", 2, &o));
    CHECK(fr_fedmsmt_template_make(&o, 2, &tp) == FR_ERR_INVALID && strstr(fr_last_error(), "client 1 holds no expert"),
          "a client without experts: %s", fr_last_error());
}

static fr_msmt_options small_model(void)
{
    fr_msmt_options m;
    fr_msmt_options_default(&m);
    m.arch = FR_ARCH_MMOE;
    m.embed_dim = 4;
    m.expert[0] = 16;
    m.expert[1] = 8;
    m.n_expert = 2;
    m.tower[0] = 8;
    m.n_tower = 1;
    m.max_batch = 256;
    return m;
}

/* Does any segment of the units overlap a parameter whose name has .bn.? */
static int units_touch_bn(fr_param_set *ps, const fed_unit *units, size_t n)
{
    size_t off = 0;
    for (size_t i = 0; i < fr_param_set_count(ps); i++) {
        fr_param *p = fr_param_set_at(ps, i);
        size_t end = off + p->rows * p->cols;
        if (strstr(p->name, ".bn."))
            for (size_t u = 0; u < n; u++)
                for (size_t s = 0; s < units[u].n_seg; s++) {
                    const unit_seg *g = &units[u].seg[s];
                    size_t last = g->off + (g->rows - 1) * g->ld + g->cols;
                    if (g->off < end && last > off)
                        return 1;
                }
        off = end;
    }
    return 0;
}

static void fedbn_stays(fr_backend *be, const fr_table *t)
{
    fr_fedmsmt_options o;
    fr_fedmsmt_options_default(&o);
    o.model = small_model();
    o.shared_experts = 2;
    o.private_experts = 1;
    for (int fedbn = 1; fedbn >= 0; fedbn--) {
        o.fedbn = fedbn;
        fed_template tp;
        CHECK_OK(fr_fedmsmt_template_make(&o, t->n_scenarios, &tp));
        fr_msmt_options mo = o.model;
        mo.experts = tp.held[0];
        fr_msmt_model *m = NULL;
        CHECK_OK(fr_msmt_model_create(be, t, &mo, &m));
        if (!m)
            return;
        fed_unit *units = malloc(80 * sizeof *units);
        size_t n = 0;
        CHECK_OK(fr_fedmsmt_units(&tp, 0, fr_msmt_model_params(m), &mo, units, 80, &n));
        int touch = units_touch_bn(fr_msmt_model_params(m), units, n);
        /* Shared experts 2 + towers 2 + embedding table and projection. */
        CHECK(n == 2 + 2 + 2, "client 0 has %zu federated units, expected 6", n);
        if (fedbn)
            CHECK(!touch, "with FedBN a federated unit covers batch-norm values");
        else
            CHECK(touch, "without FedBN no federated unit covers batch-norm values");
        free(units);
        fr_msmt_model_free(m);
    }
}

/* An expert's unit is exactly that expert: changing every value of
 * expert k's unit in a bank of 3 changes expert k's output columns and no
 * other's, and the 3 units cover every value of the bank. */
static void expert_slices(fr_backend *be)
{
    fr_param_set *ps = NULL;
    CHECK_OK(fr_param_set_create(be, &ps));
    if (!ps)
        return;
    const size_t E = 3, in = 5, widths[] = {4, 3}, B = 6, last = 3;
    fr_expert_bank bank;
    CHECK_OK(fr_expert_bank_init(&bank, ps, "expert", E, in, widths, 2, 1, 0.0f, B, FR_ROLE_GLOBAL, 7));
    fr_fedmsmt_options o;
    fr_fedmsmt_options_default(&o);
    o.fedbn = 0; /* batch-norm slices inside the units too */
    CHECK_OK(fr_fedmsmt_parse_membership("111;111", 2, &o));
    fed_template tp;
    CHECK_OK(fr_fedmsmt_template_make(&o, 2, &tp));
    tp.rule[UNIT_TOWER].federated = tp.rule[UNIT_GATE].federated = 0;
    tp.rule[UNIT_EMB_TABLE].federated = tp.rule[UNIT_EMB_NUMERIC].federated = 0;
    fr_msmt_options mo = small_model();
    mo.expert[0] = widths[0];
    mo.expert[1] = widths[1];
    fed_unit units[3];
    size_t n = 0;
    CHECK_OK(fr_fedmsmt_units(&tp, 0, ps, &mo, units, 3, &n));
    size_t total = fr_param_set_numel(ps, FR_ROLES_ALL), covered = 0;
    for (size_t u = 0; u < n; u++)
        covered += units[u].numel;
    CHECK(n == 3 && covered == total, "3 expert units cover %zu of the bank's %zu values", covered, total);
    float *flat = malloc(total * sizeof *flat), *moved = malloc(total * sizeof *moved);
    float x[6 * 5], before[6 * 9], after[6 * 9];
    fr_buffer *xb = NULL;
    for (size_t i = 0; i < B * in; i++)
        x[i] = (float)((i * 7) % 11) / 5.0f - 1.0f;
    CHECK_OK(fr_buffer_alloc(be, sizeof x, &xb));
    CHECK_OK(fr_buffer_upload(xb, 0, x, sizeof x));
    CHECK_OK(fr_param_set_export(ps, FR_ROLES_ALL, flat, total));
    fr_view out;
    CHECK_OK(fr_expert_bank_forward(&bank, be, B, fr_view_of(xb, 0), 0, 0, &out));
    CHECK_OK(fr_buffer_download(out.buf, out.off * sizeof(float), before, sizeof before));
    for (size_t k = 0; k < n && flat && moved; k++) {
        float v[512];
        memcpy(moved, flat, total * sizeof *moved);
        fr_fedmsmt_unit_gather(&units[k], moved, v);
        for (size_t i = 0; i < units[k].numel; i++)
            v[i] = v[i] * 1.5f + 0.25f;
        fr_fedmsmt_unit_scatter(&units[k], v, moved);
        CHECK_OK(fr_param_set_import(ps, FR_ROLES_ALL, moved, total));
        CHECK_OK(fr_expert_bank_forward(&bank, be, B, fr_view_of(xb, 0), 0, 0, &out));
        CHECK_OK(fr_buffer_download(out.buf, out.off * sizeof(float), after, sizeof after));
        size_t own_changed = 0, other_changed = 0;
        for (size_t r = 0; r < B; r++)
            for (size_t c = 0; c < E * last; c++) {
                int changed = before[r * E * last + c] != after[r * E * last + c];
                if (c / last == units[k].index)
                    own_changed += changed;
                else
                    other_changed += changed;
            }
        CHECK(own_changed > 0 && other_changed == 0,
              "moving expert %zu's unit changed %zu of its outputs and %zu of the other experts'", units[k].index,
              own_changed, other_changed);
    }
    free(flat);
    free(moved);
    fr_buffer_free(xb);
    fr_expert_bank_release(&bank);
    fr_param_set_free(ps);
}

static fr_fedmsmt_result run(fr_backend *be, const fr_table *t, fr_fedmsmt_options *o)
{
    fr_fedmsmt_result r;
    memset(&r, 0, sizeof r);
    CHECK_OK(fr_fedmsmt_run(be, t, o, NULL, NULL, &r));
    return r;
}

typedef struct arrivals {
    size_t participants, aggregated, rounds, rejected;
    size_t rejected_in[16]; /* per round (1-based, the first 15) */
} arrivals;

static void count_arrivals(void *arg, const fr_fedmsmt_round *r)
{
    arrivals *a = arg;
    a->participants += r->participants;
    a->aggregated += (size_t)r->aggregated;
    a->rejected += r->rejected;
    if (r->round < 16)
        a->rejected_in[r->round] = r->rejected;
    a->rounds++;
}

/* Screening (the federation core's): NaN faults refused — exactly the
 * clients the documented stream (seed, round, client, FAULT) picks, the
 * same on 1 and 2 threads — and left out like late clients; with every
 * update refused nothing is aggregated and the run is the local baseline's;
 * 1e6-times updates wreck the run unless the clip bounds them. */
static void screening(fr_backend *be1, fr_backend *be2, const fr_table *t, fr_fedmsmt_options o)
{
    size_t C = t->n_scenarios;
    o.fault_nan = 0.4;
    arrivals x, y;
    memset(&x, 0, sizeof x);
    memset(&y, 0, sizeof y);
    fr_fedmsmt_result a, b;
    CHECK_OK(fr_fedmsmt_run(be1, t, &o, count_arrivals, &x, &a));
    CHECK_OK(fr_fedmsmt_run(be2, t, &o, count_arrivals, &y, &b));
    CHECK(!memcmp(&a.test, &b.test, sizeof a.test) && x.rejected == y.rejected,
          "NaN faults: 1 and 2 threads differ (%zu / %zu refused)", x.rejected, y.rejected);
    size_t expected_total = 0;
    for (size_t r = 1; r <= o.rounds && r < 16; r++) {
        size_t expected = 0;
        for (size_t c = 0; c < C; c++) {
            fr_rng rng;
            fr_rng_init(&rng, o.seed, (uint32_t)r, (uint32_t)c, FR_RNG_FAULT);
            expected += fr_rng_uniform_double(&rng) < o.fault_nan;
        }
        CHECK(x.rejected_in[r] == expected, "round %zu: %zu updates refused, the fault stream picks %zu", r,
              x.rejected_in[r], expected);
        expected_total += expected;
    }
    CHECK(expected_total > 0 && x.participants == C * x.rounds - x.rejected && isfinite(a.test.mean_auc),
          "NaN faults: %zu refused of %zu, %zu participants, test AUC %g", x.rejected, C * x.rounds,
          x.participants, a.test.mean_auc);
    /* Every update refused: no aggregation, the clients train alone. */
    o.fault_nan = 1.0;
    memset(&x, 0, sizeof x);
    CHECK_OK(fr_fedmsmt_run(be2, t, &o, count_arrivals, &x, &a));
    fr_fedmsmt_options lo = o;
    lo.fault_nan = 0;
    lo.method = FR_FED_LOCAL;
    fr_fedmsmt_result local = run(be2, t, &lo);
    CHECK(x.aggregated == 0 && x.rejected == C * x.rounds && !memcmp(&a.test, &local.test, sizeof a.test),
          "every update refused: %zu rounds aggregated, %zu refused; test AUC %.6f, local %.6f", x.aggregated,
          x.rejected, a.test.mean_auc, local.test.mean_auc);
    /* Huge updates: the clip keeps the run sane. */
    o.fault_nan = 0;
    o.fault_huge = 0.5;
    fr_fedmsmt_result wrecked = run(be2, t, &o);
    o.clip_norm = 1.0;
    fr_fedmsmt_result clipped = run(be2, t, &o);
    CHECK(clipped.test.mean_auc > 0.53 && !(wrecked.test.mean_auc > 0.53),
          "1e6-times updates: test AUC %.4f unclipped, %.4f clipped to norm 1", wrecked.test.mean_auc,
          clipped.test.mean_auc);
    fprintf(stderr, "screening: %zu NaN updates refused over %zu rounds; huge updates: AUC %.4f, clipped %.4f\n",
            expected_total, o.rounds, wrecked.test.mean_auc, clipped.test.mean_auc);
}

/* Simulated stragglers: the same clients miss the deadline on 1 and 2
 * threads, the run changes, and a quorum above the clients stops every
 * aggregation. */
static void stragglers(fr_backend *be1, fr_backend *be2, const fr_table *t, fr_fedmsmt_options o,
                       const fr_fedmsmt_result *full)
{
    o.participation.deadline = 1.0;
    o.participation.deadline_simulated = 1;
    o.participation.latency_mean = 1.0; /* P(late) = exp(-1) */
    arrivals x, y;
    memset(&x, 0, sizeof x);
    memset(&y, 0, sizeof y);
    fr_fedmsmt_result a, b;
    CHECK_OK(fr_fedmsmt_run(be1, t, &o, count_arrivals, &x, &a));
    CHECK_OK(fr_fedmsmt_run(be2, t, &o, count_arrivals, &y, &b));
    size_t C = t->n_scenarios;
    CHECK(!memcmp(&a.test, &b.test, sizeof a.test) && x.participants == y.participants,
          "simulated stragglers differ across thread counts");
    CHECK(x.participants > 0 && x.participants < C * x.rounds && x.aggregated > 0,
          "simulated deadline: %zu of %zu updates arrived, %zu rounds aggregated", x.participants, C * x.rounds,
          x.aggregated);
    CHECK(a.test.mean_auc != full->test.mean_auc, "leaving late clients out changed nothing");
    o.participation.min_clients = C + 1;
    arrivals z;
    memset(&z, 0, sizeof z);
    CHECK_OK(fr_fedmsmt_run(be2, t, &o, count_arrivals, &z, &a));
    CHECK(z.aggregated == 0 && a.conflicts == 0 && a.upload_bytes_per_round[0] == 0,
          "a quorum above the clients still aggregated %zu rounds", z.aggregated);
    o.participation.latency_mean = 0;
    CHECK(fr_fedmsmt_run(be2, t, &o, NULL, NULL, &a) == FR_ERR_INVALID, "a simulated deadline without latency accepted");
}

static void engine(fr_backend *be1, fr_backend *be2, const fr_table *t)
{
    fr_fedmsmt_options o;
    fr_fedmsmt_options_default(&o);
    o.model = small_model();
    o.shared_experts = 2;
    o.private_experts = 1;
    o.rounds = 4;
    o.batch = 256;
    o.lr = 0.01f;
    o.seed = 3;
    fr_fedmsmt_result a = run(be1, t, &o), b = run(be2, t, &o);
    CHECK(a.rounds == o.rounds && !memcmp(&a.test, &b.test, sizeof a.test) && !memcmp(&a.valid, &b.valid, sizeof a.valid) &&
              !memcmp(a.upload_bytes_per_round, b.upload_bytes_per_round, sizeof a.upload_bytes_per_round),
          "PF-MSMTrec on 1 and 2 threads: test mean AUC %.9f / %.9f", a.test.mean_auc, b.test.mean_auc);
    /* Chance is 0.5; on this data (seed 3) it reaches about 0.6. */
    CHECK(a.test.mean_auc > 0.56, "PF-MSMTrec after 4 rounds: test mean AUC %.4f", a.test.mean_auc);
    for (size_t c = 0; c < t->n_scenarios; c++)
        CHECK(a.upload_bytes_per_round[c] > 0 && a.experts_held[c] == 3, "client %zu: %llu bytes, %zu experts", c,
              (unsigned long long)a.upload_bytes_per_round[c], a.experts_held[c]);
    fprintf(stderr, "PF-MSMTrec, %zu rounds: test mean AUC %.4f, %llu bytes per round from client 0, %zu conflicts coordinated\n",
            a.rounds, a.test.mean_auc, (unsigned long long)a.upload_bytes_per_round[0], a.conflicts);
    stragglers(be1, be2, t, o, &a);
    screening(be1, be2, t, o);
    /* Each module changes the run. */
    /* Coordination acts only on conflicts: without any it must change
     * nothing, with some it must change the result. */
    o.coordination = 0;
    fr_fedmsmt_result nc = run(be2, t, &o);
    if (a.conflicts)
        CHECK(nc.test.mean_auc != a.test.mean_auc, "coordination of %zu conflicts changed nothing", a.conflicts);
    else
        CHECK(!memcmp(&nc.test, &a.test, sizeof a.test), "coordination without conflicts changed the result");
    CHECK(nc.conflicts == 0, "%zu conflicts counted with coordination off", nc.conflicts);
    o.coordination = 1;
    o.experts_agg = FR_FED_AGG_MEAN;
    fr_fedmsmt_result nm = run(be2, t, &o);
    CHECK(nm.test.mean_auc != a.test.mean_auc, "mean aggregation of experts gave the same result as personal");
    o.experts_agg = FR_FED_AGG_PERSONAL;
    o.towers_agg = FR_FED_AGG_LOCAL;
    fr_fedmsmt_result nt = run(be2, t, &o);
    CHECK(nt.upload_bytes_per_round[0] < a.upload_bytes_per_round[0], "without the tower pass client 0 uploads %llu bytes, with it %llu",
          (unsigned long long)nt.upload_bytes_per_round[0], (unsigned long long)a.upload_bytes_per_round[0]);
    o.towers_agg = FR_FED_AGG_PERSONAL;
    /* The baselines. */
    o.method = FR_FED_LOCAL;
    fr_fedmsmt_result lo = run(be2, t, &o);
    for (size_t c = 0; c < t->n_scenarios; c++)
        CHECK(lo.upload_bytes_per_round[c] == 0, "local-only client %zu uploaded %llu bytes", c,
              (unsigned long long)lo.upload_bytes_per_round[c]);
    o.method = FR_FED_FEDAVG;
    fr_fedmsmt_result fa = run(be2, t, &o);
    o.method = FR_FED_FEDBN;
    fr_fedmsmt_result fb = run(be2, t, &o);
    CHECK(fb.upload_bytes_per_round[0] < fa.upload_bytes_per_round[0] && fa.test.mean_auc != fb.test.mean_auc,
          "FedBN uploads %llu bytes, FedAvg %llu", (unsigned long long)fb.upload_bytes_per_round[0],
          (unsigned long long)fa.upload_bytes_per_round[0]);
    fprintf(stderr, "4 rounds, test mean AUC: local %.4f, FedAvg %.4f, FedBN %.4f\n", lo.test.mean_auc,
            fa.test.mean_auc, fb.test.mean_auc);
    o.method = FR_FED_FEDPROX;
    o.prox_mu = 0.0;
    fr_fedmsmt_result ignored;
    CHECK(fr_fedmsmt_run(be2, t, &o, NULL, NULL, &ignored) == FR_ERR_INVALID && strstr(fr_last_error(), "FedProx"),
          "FedProx without a proximal term accepted");
    o.prox_mu = 0.1;
    fr_fedmsmt_result fp = run(be2, t, &o);
    CHECK(fp.test.mean_auc != fa.test.mean_auc, "FedProx (mu 0.1) gave FedAvg's result");
}

/* keep_models: every client's model of the best round, handed over; each
 * evaluates on its own test rows to exactly the run's reported cells, and
 * so do the same parameters saved to a file and loaded into models built
 * by fr_fedmsmt_client_model_create. Keeping changes nothing in the run. */
static void kept_models(fr_backend *be, const fr_table *t, fr_fed_method method, size_t rounds, float lr)
{
    fr_fedmsmt_options o;
    fr_fedmsmt_options_default(&o);
    o.model = small_model();
    o.method = method;
    o.shared_experts = 2;
    o.private_experts = 1;
    o.rounds = rounds;
    o.batch = 256;
    o.lr = lr;
    o.seed = 3;
    fr_fedmsmt_result plain = run(be, t, &o);
    o.keep_models = 1;
    fr_fedmsmt_result r = run(be, t, &o);
    CHECK(!memcmp(&plain.test, &r.test, sizeof r.test) && plain.best_round == r.best_round,
          "%s: keeping the models changed the run", fr_fed_method_name(method));
    char path[] = "/tmp/fr_fedmsmt_kept_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "no temporary file");
    if (fd >= 0)
        close(fd);
    size_t C = t->n_scenarios;
    fr_model_part parts[FR_TABLE_MAX_SCENARIOS];
    char prefix[FR_TABLE_MAX_SCENARIOS][32];
    fr_msmt_model *back[FR_TABLE_MAX_SCENARIOS] = {NULL};
    for (size_t c = 0; c < C; c++) {
        CHECK(r.model[c] != NULL, "client %zu: no model kept", c);
        if (!r.model[c])
            return;
        snprintf(prefix[c], sizeof prefix[c], "client.%zu/", c);
        parts[c] = (fr_model_part){prefix[c], fr_msmt_model_params(r.model[c])};
    }
    fr_msmt_eval all;
    CHECK_OK(fr_fedmsmt_evaluate(r.model, t, FR_SPLIT_TEST, &all));
    CHECK(!memcmp(all.auc, r.test.auc, sizeof all.auc) && !memcmp(all.logloss, r.test.logloss, sizeof all.logloss) &&
              all.mean_auc == r.test.mean_auc && all.mean_logloss == r.test.mean_logloss,
          "%s: fr_fedmsmt_evaluate's test mean AUC %.9f, the run's %.9f", fr_fed_method_name(method), all.mean_auc,
          r.test.mean_auc);
    CHECK_OK(fr_model_save_parts(path, parts, C, NULL));
    for (size_t c = 0; c < C; c++) {
        CHECK_OK(fr_fedmsmt_client_model_create(be, t, &o, c, &back[c]));
        parts[c].set = back[c] ? fr_msmt_model_params(back[c]) : NULL;
    }
    if (back[C - 1])
        CHECK_OK(fr_model_load_parts(path, parts, C));
    remove(path);
    uint32_t *test;
    size_t n_test;
    CHECK_OK(fr_table_split_rows(t, FR_SPLIT_TEST, &test, &n_test));
    for (size_t c = 0; c < C && back[c]; c++) {
        size_t n = 0;
        uint32_t *own = malloc(n_test * sizeof *own);
        for (size_t i = 0; i < n_test; i++)
            if ((size_t)t->scenario[test[i]] == c)
                own[n++] = test[i];
        fr_msmt_eval e, f;
        CHECK_OK(fr_msmt_evaluate_rows(r.model[c], t, own, n, &e));
        CHECK_OK(fr_msmt_evaluate_rows(back[c], t, own, n, &f));
        for (size_t k = 0; k < t->n_tasks; k++)
            CHECK(e.auc[c][k] == r.test.auc[c][k] && e.logloss[c][k] == r.test.logloss[c][k] &&
                      f.auc[c][k] == e.auc[c][k] && f.logloss[c][k] == e.logloss[c][k],
                  "%s, client %zu task %zu: kept model AUC %.9f, loaded %.9f, the run's best round (%zu of %zu) %.9f",
                  fr_fed_method_name(method), c, k, e.auc[c][k], f.auc[c][k], r.best_round, r.rounds,
                  r.test.auc[c][k]);
        free(own);
        fr_msmt_model_free(back[c]);
    }
    free(test);
    /* These runs peak before their last round: the kept models are the
     * best round's, not the last. */
    CHECK(r.best_round < r.rounds, "%s: best round %zu of %zu, expected an earlier one", fr_fed_method_name(method),
          r.best_round, r.rounds);
    fr_fedmsmt_result_release(&r);
    CHECK(r.model[0] == NULL, "released models left in the result");
}

int main(void)
{
    coordination();
    weights();
    template_cases();
    fr_backend_options bo;
    fr_backend_options_default(&bo);
    bo.kind = FR_BACKEND_CPU;
    bo.threads = 1;
    fr_backend *be1 = NULL, *be2 = NULL;
    CHECK_OK(fr_backend_open(&bo, &be1));
    bo.threads = 2;
    CHECK_OK(fr_backend_open(&bo, &be2));
    if (!be1 || !be2)
        return fr_test_finish("test_fedmsmt");
    fr_msmt_synth so;
    fr_msmt_synth_default(&so);
    so.rows = 15000;
    so.vocab = 30;
    so.scenarios = 3;
    so.conflict_scenarios = 1;
    so.seed = 3;
    fr_table t;
    CHECK_OK(fr_msmt_synth_make(&so, &t));
    fedbn_stays(be1, &t);
    expert_slices(be1);
    engine(be1, be2, &t);
    kept_models(be2, &t, FR_FED_PFMSMTREC, 6, 0.1f);
    kept_models(be1, &t, FR_FED_LOCAL, 5, 0.05f);
    fr_table_free(&t);
    fr_backend_close(be1);
    fr_backend_close(be2);
    return fr_test_finish("test_fedmsmt");
}
