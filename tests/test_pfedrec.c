/* test_pfedrec.c — the PFedRec engine: HR/NDCG of one held-out positive
 * against hand-worked cases (ties count against the positive); identical
 * results for 1 and 3 threads and with client sampling; the options that
 * change the algorithm do change it (MovieLens-100K's figures:
 * test_pfedrec_ml100k.c). Also: uploading every row equals
 * uploading changed rows, and a run resumed from a checkpoint equals an
 * uninterrupted one. Stragglers: a simulated deadline drops the same
 * clients at any thread count, min_clients keeps the table, a past
 * wall-clock deadline trains nobody; a one-rank communicator changes
 * nothing. Faulty clients: NaN updates rejected, 1e6-times updates
 * clipped; robust aggregation (median, trimmed mean) withstands them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedrec/metrics.h"
#include "fedrec/pfedrec.h"
#include "fedrec/ratings.h"
#include "testutil.h"

static void check_metrics(void)
{
    double hr, ndcg;
    const float neg[] = {0.1f, 0.9f, 0.5f, 0.5f};
    fr_hit_ndcg(0.5f, neg, 4, 10, &hr, &ndcg); /* 0.9, 0.5, 0.5 >= 0.5: rank 4 */
    CHECK(hr == 1.0 && fabs(ndcg - log(2.0) / log(5.0)) < 1e-12, "rank 4: %g %g", hr, ndcg);
    fr_hit_ndcg(1.0f, neg, 4, 10, &hr, &ndcg); /* rank 1 */
    CHECK(hr == 1.0 && fabs(ndcg - 1.0) < 1e-12, "rank 1: %g %g", hr, ndcg);
    fr_hit_ndcg(0.0f, neg, 4, 3, &hr, &ndcg); /* rank 5 > k = 3 */
    CHECK(hr == 0.0 && ndcg == 0.0, "outside the top 3: %g %g", hr, ndcg);
}

/* Ratings of a small synthetic world: user u likes items near u. */
static void toy_ratings(fr_ratings *r, size_t users, size_t items)
{
    memset(r, 0, sizeof *r);
    /* Users hold 8 to 14 ratings: uneven, so weighted and plain means differ. */
    r->n = 0;
    for (size_t u = 0; u < users; u++)
        r->n += 8 + u % 7;
    r->n_users = users;
    r->n_items = items;
    r->user = malloc(r->n * sizeof *r->user);
    r->item = malloc(r->n * sizeof *r->item);
    r->rating = malloc(r->n * sizeof *r->rating);
    r->time = malloc(r->n * sizeof *r->time);
    r->user_names = calloc(users, sizeof(char *));
    r->item_names = calloc(items, sizeof(char *));
    size_t i = 0;
    for (size_t u = 0; u < users; u++)
        for (size_t k = 0; k < 8 + u % 7; k++, i++) {
            r->user[i] = (int32_t)u;
            r->item[i] = (int32_t)((u * 3 + k * 7) % items);
            r->rating[i] = 1;
            r->time[i] = (int64_t)k;
        }
    for (size_t u = 0; u < users; u++) {
        r->user_names[u] = malloc(16);
        snprintf(r->user_names[u], 16, "u%zu", u);
    }
    for (size_t it = 0; it < items; it++) {
        r->item_names[it] = malloc(16);
        snprintf(r->item_names[it], 16, "i%zu", it);
    }
}

/* Final metrics and item table of a few rounds. */
static void run(const fr_loo_split *s, fr_pfedrec_options o, int rounds, fr_pfedrec_round *last,
                float **items)
{
    fr_pfedrec *p = NULL;
    CHECK_OK(fr_pfedrec_create(s, &o, &p));
    if (!p)
        return;
    for (int k = 0; k < rounds; k++)
        CHECK_OK(fr_pfedrec_run_round(p, (unsigned)k, last));
    size_t n = s->n_items * o.dim;
    *items = malloc(n * sizeof **items);
    memcpy(*items, fr_pfedrec_items(p), n * sizeof **items);
    fr_pfedrec_free(p);
}

/* The engine's options for the toy worlds: small and quick. */
static void toy_options(fr_pfedrec_options *o)
{
    fr_pfedrec_options_default(o);
    o->dim = 8;
    o->batch = 16;
    o->lr_eta = 2;
}

/* Robust aggregation without a clip, on a dense world (30 items, each
 * changed by most of the 60 clients, so that 5% of wild clients are a
 * small minority of every row's uploaders): the median and the trimmed
 * mean keep the table sane where the mean is wrecked, the same at any
 * thread count; a trimmed mean trimming nothing is the mean (to
 * rounding); bad settings are refused. */
static void check_robust(void)
{
    fr_ratings r;
    toy_ratings(&r, 60, 30);
    fr_loo_split s;
    CHECK_OK(fr_loo_split_make(&r, 1, 5, &s));
    fr_pfedrec_options o;
    toy_options(&o);
    o.threads = 2;
    size_t n = s.n_items * o.dim;
    fr_pfedrec_round a, b;
    float *ia = NULL, *ib = NULL, *imean = NULL;
    fr_aggregator robust[2] = {FR_AGG_MEDIAN, FR_AGG_TRIMMED_MEAN};
    for (int k = 0; k < 2; k++) {
        fr_pfedrec_options of = o;
        of.fault_huge = 0.05;
        of.aggregator = robust[k];
        of.trim = 0.2;
        of.threads = 1;
        run(&s, of, 2, &a, &ia);
        of.threads = 3;
        run(&s, of, 2, &b, &ib);
        float largest = 0;
        for (size_t i = 0; ia && i < n; i++)
            largest = fmaxf(largest, fabsf(ia[i]));
        CHECK(ia && largest < 20.0f, "aggregator %d: 1e6-times updates pushed an item value to %g", (int)robust[k],
              largest);
        CHECK(ia && ib && !memcmp(ia, ib, n * sizeof *ia), "aggregator %d differs across thread counts",
              (int)robust[k]);
        free(ia);
        free(ib);
    }
    fr_pfedrec_options of = o;
    of.fault_huge = 0.05;
    run(&s, of, 2, &a, &ia);
    float wrecked = 0;
    for (size_t i = 0; ia && i < n; i++)
        wrecked = fmaxf(wrecked, fabsf(ia[i]));
    CHECK(wrecked > 1e4f, "1e6-times updates at 5%%: the mean kept the table at %g", wrecked);
    free(ia);
    run(&s, o, 2, &a, &imean);
    of = o;
    of.aggregator = FR_AGG_TRIMMED_MEAN;
    of.trim = 0;
    run(&s, of, 2, &b, &ia);
    double far = 0;
    for (size_t i = 0; ia && imean && i < n; i++)
        far = fmax(far, fabs((double)ia[i] - imean[i]));
    CHECK(ia && imean && far < 1e-4, "a trimmed mean trimming nothing differs from the mean by %g", far);
    free(ia);
    free(imean);
    fr_pfedrec *p = NULL;
    of.trim = 0.5;
    CHECK(fr_pfedrec_create(&s, &of, &p) == FR_ERR_INVALID, "trim 0.5 accepted");
    of.trim = 0.1;
    of.weighted = 1;
    CHECK(fr_pfedrec_create(&s, &of, &p) == FR_ERR_INVALID, "a robust weighted mean accepted");
    fr_loo_split_free(&s);
    fr_ratings_free(&r);
}

/* With a job fingerprint: a checkpoint resumes under a fingerprint that
 * differs only in keys a resume may change, and is refused under another
 * value of any other key (FR_ERR_CONFIG, naming it and both values), by
 * an engine with a fingerprint when it holds none, and on a split of the
 * same sizes with other contents (FR_ERR_DATA). */
static void check_job_fingerprint(const fr_ratings *r, const fr_loo_split *s, fr_pfedrec_options o,
                                  const char *dir)
{
    char path[256];
    snprintf(path, sizeof path, "%s/job", dir);
    fr_pfedrec *p = NULL;
    double extra[2] = {1, 2};
    unsigned done = 0;
    o.job_fingerprint = "pfedrec.lr = 0.1\ntrain.rounds = 4\noutput.report = a.csv\nfed.clip_norm = 0\n";
    CHECK_OK(fr_pfedrec_create(s, &o, &p));
    if (!p)
        return;
    CHECK_OK(fr_pfedrec_run_round(p, 0, &(fr_pfedrec_round){0}));
    CHECK_OK(fr_pfedrec_save(p, path, 1, extra, 2));
    fr_pfedrec_free(p);
    struct {
        const char *job;
        fr_status want;
        const char *says;
    } cases[] = {
        {"pfedrec.lr = 0.1\ntrain.rounds = 9\noutput.report = b.csv\nfed.clip_norm = 0\n", FR_OK, ""},
        {"pfedrec.lr = 0.1\ntrain.rounds = 4\nfed.clip_norm = 0\n", FR_OK, ""},
        {"pfedrec.lr = 5\ntrain.rounds = 4\noutput.report = a.csv\nfed.clip_norm = 0\n", FR_ERR_CONFIG,
         "1 key differs: pfedrec.lr: checkpoint 0.1, now 5 ("},
        {"pfedrec.lr = 0.1\ntrain.rounds = 4\noutput.report = a.csv\nfed.clip_norm = 2\n", FR_ERR_CONFIG,
         "fed.clip_norm: checkpoint 0, now 2"},
        {"pfedrec.lr = 0.1\ntrain.rounds = 4\noutput.report = a.csv\n", FR_OK, ""}, /* its default */
        {"pfedrec.lr = 0.1\n", FR_OK, ""},
        {"pfedrec.lr = 0.1\nprivacy.dp_noise = 1\n", FR_ERR_CONFIG,
         "privacy.dp_noise: checkpoint (none), now 1"},
        {"pfedrec.lr = 0.1\ntrain.rounds (fixed by privacy.dp_epsilon) = 4\n", FR_ERR_CONFIG,
         "train.rounds (fixed by privacy.dp_epsilon): checkpoint (none), now 4"},
        {NULL, FR_OK, ""}, /* none given: only the data and sizes count */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        o.job_fingerprint = cases[k].job;
        p = NULL;
        CHECK_OK(fr_pfedrec_create(s, &o, &p));
        if (!p)
            continue;
        const float before = fr_pfedrec_items(p)[0];
        fr_status got = fr_pfedrec_load(p, path, &done, extra, 2);
        CHECK(got == cases[k].want && strstr(got == FR_OK ? "" : fr_last_error(), cases[k].says),
              "job fingerprint case %zu: status %d, %s", k, (int)got, got == FR_OK ? "ok" : fr_last_error());
        if (got != FR_OK)
            CHECK(fr_pfedrec_items(p)[0] == before, "case %zu: a refused checkpoint changed the model", k);
        fr_pfedrec_free(p);
    }
    /* A checkpoint written without a fingerprint, read with one. */
    o.job_fingerprint = NULL;
    p = NULL;
    CHECK_OK(fr_pfedrec_create(s, &o, &p));
    if (p)
        CHECK_OK(fr_pfedrec_save(p, path, 1, extra, 2));
    fr_pfedrec_free(p);
    o.job_fingerprint = "pfedrec.lr = 0.1\n";
    p = NULL;
    CHECK_OK(fr_pfedrec_create(s, &o, &p));
    if (p)
        CHECK(fr_pfedrec_load(p, path, &done, extra, 2) == FR_ERR_CONFIG &&
                  strstr(fr_last_error(), "holds no configuration"),
              "a checkpoint without a fingerprint: %s", fr_last_error());
    fr_pfedrec_free(p);
    /* The same ratings split with another seed: the same sizes, other
     * evaluation negatives. */
    fr_loo_split other;
    CHECK_OK(fr_loo_split_make(r, 77, s->negatives_per_eval, &other));
    CHECK(fr_loo_split_fingerprint(&other) != fr_loo_split_fingerprint(s), "two splits, one fingerprint");
    o.job_fingerprint = NULL;
    p = NULL;
    CHECK_OK(fr_pfedrec_create(&other, &o, &p));
    if (p)
        CHECK(fr_pfedrec_load(p, path, &done, extra, 2) == FR_ERR_DATA &&
                  strstr(fr_last_error(), "written on other data: the same"),
              "a checkpoint of other data: %s", fr_last_error());
    fr_pfedrec_free(p);
    fr_loo_split_free(&other);
    remove(path);
    char prev[300];
    snprintf(prev, sizeof prev, "%s.prev", path);
    remove(prev);
}

int main(void)
{
    check_metrics();
    check_robust();
    fr_ratings r;
    toy_ratings(&r, 60, 300);
    fr_loo_split s;
    CHECK_OK(fr_loo_split_make(&r, 1, 20, &s));
    fr_pfedrec_options o;
    toy_options(&o);
    size_t n = s.n_items * o.dim;

    /* Thread count changes nothing, with and without client sampling. */
    for (int sampled = 0; sampled < 2; sampled++) {
        o.client_fraction = sampled ? 0.3 : 1.0;
        fr_pfedrec_round a, b;
        float *ia = NULL, *ib = NULL;
        o.threads = 1;
        run(&s, o, 3, &a, &ia);
        o.threads = 3;
        run(&s, o, 3, &b, &ib);
        CHECK(ia && ib && !memcmp(ia, ib, n * sizeof *ia), "item tables differ across thread counts (sampled %d)", sampled);
        CHECK(a.test_hr == b.test_hr && a.val_ndcg == b.val_ndcg && a.train_loss == b.train_loss,
              "metrics differ across thread counts (sampled %d)", sampled);
        CHECK(a.clients == (sampled ? 18u : 60u), "clients per round %zu", a.clients);
        free(ia);
        free(ib);
    }
    o.client_fraction = 1.0;
    o.threads = 2;
    /* Options that change the algorithm change the result. */
    fr_pfedrec_round base, other;
    float *ib = NULL, *io = NULL;
    run(&s, o, 2, &base, &ib);
    const char *names[] = {"strict", "weighted", "share_score"};
    for (int v = 0; v < 3; v++) {
        fr_pfedrec_options ov = o;
        if (v == 0)
            ov.strict = 1;
        if (v == 1)
            ov.weighted = 1;
        if (v == 2)
            ov.share_score = 1;
        run(&s, ov, 2, &other, &io);
        CHECK(io && memcmp(ib, io, n * sizeof *ib) != 0, "option %s changed nothing", names[v]);
        free(io);
        io = NULL;
    }
    /* FedMF on the same engine: deterministic, and not PFedRec. */
    {
        fr_pfedrec_options om = o;
        om.algorithm = FR_ALGO_FEDMF;
        fr_pfedrec_round m1, m2;
        float *a1 = NULL, *a2 = NULL;
        run(&s, om, 2, &m1, &a1);
        om.threads = 1;
        run(&s, om, 2, &m2, &a2);
        CHECK(a1 && a2 && !memcmp(a1, a2, n * sizeof *a1) && m1.test_hr == m2.test_hr,
              "FedMF differs across thread counts");
        CHECK(a1 && memcmp(a1, ib, n * sizeof *a1) != 0, "FedMF trained like PFedRec");
        free(a1);
        free(a2);
    }
    fr_pfedrec_options og = o;
    og.eval_global_items = 1;
    run(&s, og, 2, &other, &io);
    CHECK(io && !memcmp(ib, io, n * sizeof *ib), "evaluating with global items changed training");
    CHECK(other.test_hr != base.test_hr || other.test_ndcg != base.test_ndcg,
          "evaluating with global items changed no metric");
    free(io);
    free(ib);
    /* Uploading every row gives exactly what uploading changed rows gives. */
    {
        fr_pfedrec_round sparse_r, dense_r;
        float *is = NULL, *id = NULL;
        fr_pfedrec_options od = o;
        run(&s, od, 2, &sparse_r, &is);
        od.dense_upload = 1;
        run(&s, od, 2, &dense_r, &id);
        CHECK(is && id && !memcmp(is, id, n * sizeof *is), "dense and sparse aggregation differ");
        CHECK(dense_r.test_hr == sparse_r.test_hr && dense_r.bytes_up > sparse_r.bytes_up,
              "dense upload: metrics or bytes wrong (%llu vs %llu)",
              (unsigned long long)dense_r.bytes_up, (unsigned long long)sparse_r.bytes_up);
        free(is);
        free(id);
    }
    /* Checkpoint after 2 rounds, resume in a new engine, run 2 more: the
     * same as 4 rounds in one go. Damaged or foreign checkpoints refused. */
    {
        char dir[] = "/tmp/fr_pfedrec_ckpt_XXXXXX", path[256], bad[256];
        if (mkdtemp(dir)) {
            snprintf(path, sizeof path, "%s/ckpt", dir);
            snprintf(bad, sizeof bad, "%s/bad", dir);
            fr_pfedrec_round straight, resumed;
            float *i4 = NULL;
            run(&s, o, 4, &straight, &i4);
            fr_pfedrec *p1 = NULL, *p2 = NULL;
            CHECK_OK(fr_pfedrec_create(&s, &o, &p1));
            fr_pfedrec_round st;
            for (unsigned k = 0; p1 && k < 2; k++)
                CHECK_OK(fr_pfedrec_run_round(p1, k, &st));
            double extra[2] = {3.5, -1}, back[2] = {0, 0};
            if (p1)
                CHECK_OK(fr_pfedrec_save(p1, path, 2, extra, 2));
            fr_pfedrec_free(p1);
            CHECK_OK(fr_pfedrec_create(&s, &o, &p2));
            unsigned done = 0;
            if (p2) {
                CHECK_OK(fr_pfedrec_load(p2, path, &done, back, 2));
                CHECK(done == 2 && back[0] == 3.5 && back[1] == -1, "checkpoint header: %u %g", done, back[0]);
                for (unsigned k = done; k < 4; k++)
                    CHECK_OK(fr_pfedrec_run_round(p2, k, &resumed));
                CHECK(!memcmp(fr_pfedrec_items(p2), i4, n * sizeof *i4), "resumed item table differs");
                CHECK(resumed.test_hr == straight.test_hr && resumed.val_ndcg == straight.val_ndcg &&
                          resumed.train_loss == straight.train_loss,
                      "resumed metrics differ");
                /* A flipped byte, a truncation, another seed: refused. */
                FILE *in = fopen(path, "rb"), *out = fopen(bad, "wb");
                int c;
                long at = 0;
                while ((c = fgetc(in)) != EOF) {
                    fputc(at == 200 ? c ^ 1 : c, out);
                    at++;
                }
                fclose(in);
                fclose(out);
                CHECK(fr_pfedrec_load(p2, bad, &done, back, 2) == FR_ERR_FORMAT &&
                          strstr(fr_last_error(), "corrupt"),
                      "corrupt checkpoint: %s", fr_last_error());
                CHECK(truncate(bad, 100) == 0, "truncate");
                CHECK(fr_pfedrec_load(p2, bad, &done, back, 2) == FR_ERR_FORMAT, "truncated checkpoint accepted");
                CHECK(!memcmp(fr_pfedrec_items(p2), i4, n * sizeof *i4), "a refused checkpoint changed the model");
                fr_pfedrec_free(p2);
                fr_pfedrec_options other_seed = o;
                other_seed.seed = 99;
                p2 = NULL;
                CHECK_OK(fr_pfedrec_create(&s, &other_seed, &p2));
                if (p2)
                    CHECK(fr_pfedrec_load(p2, path, &done, back, 2) == FR_ERR_FORMAT &&
                              strstr(fr_last_error(), "another run"),
                          "checkpoint of another seed: %s", fr_last_error());
                fr_pfedrec_free(p2);
                check_job_fingerprint(&r, &s, o, dir);
            }
            free(i4);
            remove(path);
            remove(bad);
            rmdir(dir);
        }
    }
    /* Stragglers, simulated clock: the same clients are late whatever the
     * thread count; only the ones that arrived are aggregated; with
     * min_clients above them the global table is kept. */
    {
        fr_pfedrec_round plain;
        float *ibase = NULL;
        run(&s, o, 2, &plain, &ibase); /* the same two rounds without a deadline */
        fr_pfedrec_options od = o;
        od.participation.deadline = 1.0;
        od.participation.deadline_simulated = 1;
        od.participation.latency_mean = 1.0; /* P(late) = exp(-1) = 0.37 */
        fr_pfedrec_round a, b;
        float *ia = NULL, *ib2 = NULL;
        od.threads = 1;
        run(&s, od, 2, &a, &ia);
        od.threads = 3;
        run(&s, od, 2, &b, &ib2);
        CHECK(ia && ib2 && !memcmp(ia, ib2, n * sizeof *ia) && a.participants == b.participants &&
                  a.train_loss == b.train_loss,
              "simulated stragglers differ across thread counts");
        CHECK(a.clients == 60 && a.participants > 20 && a.participants < 55 && a.aggregated,
              "simulated deadline: %zu of %zu arrived (expected about 63 %%)", a.participants, a.clients);
        CHECK(ia && memcmp(ia, ibase, n * sizeof *ia) != 0, "dropping late clients changed nothing");
        free(ia);
        free(ib2);
        /* Quorum not met: the round leaves the table as it was. */
        fr_pfedrec *p = NULL;
        od.participation.min_clients = 59;
        CHECK_OK(fr_pfedrec_create(&s, &od, &p));
        float *before = malloc(n * sizeof *before);
        if (p && before) {
            memcpy(before, fr_pfedrec_items(p), n * sizeof *before);
            fr_pfedrec_round r1;
            CHECK_OK(fr_pfedrec_run_round(p, 0, &r1));
            CHECK(!r1.aggregated && r1.participants < 59 && !memcmp(before, fr_pfedrec_items(p), n * sizeof *before),
                  "below min_clients the table changed (%zu arrived, aggregated %d)", r1.participants, r1.aggregated);
        }
        free(before);
        fr_pfedrec_free(p);
        /* Wall clock: a deadline already past when clients would start
         * skips them all; nothing is aggregated. */
        fr_pfedrec_options ow = o;
        ow.participation.deadline = 1e-12;
        p = NULL;
        CHECK_OK(fr_pfedrec_create(&s, &ow, &p));
        before = malloc(n * sizeof *before);
        if (p && before) {
            memcpy(before, fr_pfedrec_items(p), n * sizeof *before);
            fr_pfedrec_round r1;
            CHECK_OK(fr_pfedrec_run_round(p, 0, &r1));
            CHECK(r1.participants == 0 && !r1.aggregated && !memcmp(before, fr_pfedrec_items(p), n * sizeof *before),
                  "a past wall-clock deadline still aggregated %zu clients", r1.participants);
        }
        free(before);
        fr_pfedrec_free(p);
        /* A one-rank communicator is the plain run. */
        fr_comm *one = NULL;
        CHECK_OK(fr_comm_open_single(&one));
        p = NULL;
        CHECK_OK(fr_pfedrec_create(&s, &o, &p));
        if (p && one) {
            CHECK_OK(fr_pfedrec_set_comm(p, one));
            fr_pfedrec_round r1, r2;
            CHECK_OK(fr_pfedrec_run_round(p, 0, &r1));
            CHECK_OK(fr_pfedrec_run_round(p, 1, &r2));
            CHECK(ibase && !memcmp(ibase, fr_pfedrec_items(p), n * sizeof *ibase) && r1.bytes_sent == 0,
                  "a one-rank communicator changed the run");
        }
        fr_pfedrec_free(p);
        fr_comm_close(one);
        free(ibase);
    }
    /* Faulty clients: NaN updates are rejected (the table stays finite),
     * at any thread count alike; a 1e6-times update wrecks the table
     * unless clipped; a clip bound above every update changes nothing. */
    {
        fr_pfedrec_round clean, a, b;
        float *ibase = NULL, *ia = NULL, *ib2 = NULL;
        run(&s, o, 2, &clean, &ibase);
        fr_pfedrec_options of = o;
        of.fault_nan = 0.2;
        of.threads = 1;
        run(&s, of, 2, &a, &ia);
        of.threads = 3;
        run(&s, of, 2, &b, &ib2);
        int finite = ia != NULL;
        for (size_t i = 0; ia && i < n; i++)
            finite = finite && isfinite(ia[i]);
        CHECK(finite && a.rejected > 0 && a.participants + a.rejected == a.clients && isfinite(a.train_loss),
              "NaN updates: %zu rejected, %zu aggregated of %zu, table finite %d", a.rejected, a.participants,
              a.clients, finite);
        CHECK(ia && ib2 && !memcmp(ia, ib2, n * sizeof *ia) && a.rejected == b.rejected,
              "rejected updates differ across thread counts");
        free(ia);
        free(ib2);
        of = o;
        of.fault_huge = 0.2;
        run(&s, of, 2, &a, &ia);
        float wrecked = 0, clipped = 0;
        for (size_t i = 0; ia && i < n; i++)
            wrecked = fmaxf(wrecked, fabsf(ia[i]));
        of.clip_norm = 1.0;
        run(&s, of, 2, &b, &ib2);
        for (size_t i = 0; ib2 && i < n; i++)
            clipped = fmaxf(clipped, fabsf(ib2[i]));
        CHECK(wrecked > 1e4f && clipped < 20.0f, "1e6-times updates: largest item value %g unclipped, %g clipped to norm 1",
              wrecked, clipped);
        free(ia);
        free(ib2);
        of = o;
        of.clip_norm = 1e30;
        run(&s, of, 2, &a, &ia);
        CHECK(ia && ibase && !memcmp(ia, ibase, n * sizeof *ia) && a.rejected == 0,
              "a clip bound above every update changed the run");
        free(ia);
        free(ibase);
        /* Every update rejected: the run stops with a numeric error. */
        of = o;
        of.fault_nan = 1.0;
        fr_pfedrec *all_bad = NULL;
        CHECK_OK(fr_pfedrec_create(&s, &of, &all_bad));
        if (all_bad) {
            fr_pfedrec_round r1;
            CHECK(fr_pfedrec_run_round(all_bad, 0, &r1) == FR_ERR_NUMERIC && strstr(fr_last_error(), "not finite"),
                  "a round with every update rejected went on: %s", fr_last_error());
        }
        fr_pfedrec_free(all_bad);
        of = o;
        of.fault_nan = 0.7;
        of.fault_huge = 0.5;
        fr_pfedrec *q = NULL;
        CHECK(fr_pfedrec_create(&s, &of, &q) == FR_ERR_INVALID, "fault probabilities over 1 accepted");
    }
    fr_pfedrec_options bad = o;
    bad.dim = 0;
    fr_pfedrec *p;
    CHECK(fr_pfedrec_create(&s, &bad, &p) == FR_ERR_INVALID, "dim 0 accepted");
    bad = o;
    bad.participation.deadline = 1;
    bad.participation.deadline_simulated = 1;
    bad.participation.latency_mean = 0;
    CHECK(fr_pfedrec_create(&s, &bad, &p) == FR_ERR_INVALID, "a simulated deadline without latency accepted");
    fr_loo_split_free(&s);
    fr_ratings_free(&r);
    return fr_test_finish("test_pfedrec");
}
