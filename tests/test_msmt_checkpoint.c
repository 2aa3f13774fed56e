/* test_msmt_checkpoint.c — the msmt trainer's checkpoints (fedrec/msmt.h,
 * "checkpoints"), through the library: a run resumed from the checkpoint
 * of an earlier epoch (MMoE with dropout and batch-norm; AutoIFS in its
 * search, before and after the rewind) ends with the uninterrupted run's
 * parameters and figures bit for bit, the caller's values and the resume
 * information come back; and every bad file is refused with a message
 * naming it and what was expected, leaving the file and the model as they
 * were: truncated, one byte changed, another format version, not a
 * checkpoint, another job's, another configuration, another model, other
 * data, a missing file; a damaged file names the PATH.prev beside it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedrec/fedrec.h"
#include "testutil.h"

static char dir[64];

static char *path_in(const char *name)
{
    static char buf[4][128];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static void *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *data = malloc(size > 0 ? (size_t)size : 1);
    *n = fread(data, 1, (size_t)size, f);
    fclose(f);
    return data;
}

static void write_all(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static void copy_file(const char *from, const char *to)
{
    size_t n = 0;
    void *data = read_all(from, &n);
    CHECK(data != NULL, "cannot read %s", from);
    if (data)
        write_all(to, data, n);
    free(data);
}

static fr_msmt_options model_options(fr_msmt_arch arch)
{
    fr_msmt_options o;
    fr_msmt_options_default(&o);
    o.arch = arch;
    o.embed_dim = 4;
    o.expert[0] = 8;
    o.n_expert = 1;
    o.tower[0] = 4;
    o.n_tower = 1;
    o.experts = 2;
    o.ifs_bottom[0] = 8;
    o.ifs_bottom[1] = 4;
    o.ifs_width = 6;
    o.dropout = 0.2f;
    o.max_batch = 128;
    o.seed = 3;
    return o;
}

static fr_msmt_train_options train_options(void)
{
    fr_msmt_train_options to;
    fr_msmt_train_options_default(&to);
    to.batch = 128;
    to.max_epochs = 4;
    to.patience = 0;
    to.eval_every = 2;
    to.lr = 0.02f;
    to.seed = 3;
    to.search_epochs = 3;
    to.rewind_epoch = 1;
    to.search_lr = 0.01f;
    return to;
}

/* What a caller keeps: a count of the epochs it saw and the last one's
 * loss (its checkpoint values), what the resume told it, and where to
 * stop (stop_after epochs in all; 0: never). */
typedef struct caller {
    double extra[2];
    int resumed;
    fr_msmt_resume_info info;
    size_t stop_after;
} caller;

static void count_epoch(void *arg, const fr_msmt_epoch *e)
{
    caller *c = arg;
    c->extra[0] += 1.0;
    c->extra[1] = e->train_loss;
}

static fr_status on_resumed(void *arg, const fr_msmt_resume_info *info)
{
    caller *c = arg;
    c->resumed = 1;
    c->info = *info;
    return FR_OK;
}

/* A stop request at the first batch after stop_after epochs: the epoch
 * under way is abandoned, the checkpoint holds the one before. */
static int stop_hook(void *arg, const fr_progress *p)
{
    const caller *c = arg;
    return c->stop_after && p->phase == FR_PROGRESS_TRAIN && (size_t)c->extra[0] >= c->stop_after;
}

/* Train a fresh model; its parameters (every set) into *values. */
static fr_status train(fr_backend *be, const fr_table *t, fr_msmt_arch arch, fr_msmt_train_options to, caller *c,
                       fr_msmt_result *r, float **values, size_t *n)
{
    fr_msmt_options o = model_options(arch);
    fr_msmt_model *m = NULL;
    fr_status s = fr_msmt_model_create(be, t, &o, &m);
    to.checkpoint.extra = c->extra;
    to.checkpoint.n_extra = 2;
    to.checkpoint.resumed = on_resumed;
    to.progress = (fr_progress_hook){stop_hook, c};
    if (s == FR_OK)
        s = fr_msmt_train(m, t, &to, count_epoch, c, r);
    if (s == FR_OK && values) {
        fr_model_part parts[FR_MSMT_MAX_PARTS];
        size_t k = fr_msmt_model_parts(m, parts), total = 0;
        for (size_t i = 0; i < k; i++)
            total += fr_param_set_numel(parts[i].set, FR_ROLES_ALL);
        *values = malloc(total * sizeof **values);
        *n = total;
        for (size_t i = 0, at = 0; s == FR_OK && i < k; i++) {
            size_t part = fr_param_set_numel(parts[i].set, FR_ROLES_ALL);
            s = fr_param_set_export(parts[i].set, FR_ROLES_ALL, *values + at, part);
            at += part;
        }
    }
    fr_msmt_model_free(m);
    return s;
}

static int same_eval(const fr_msmt_eval *a, const fr_msmt_eval *b)
{
    return !memcmp(a->auc, b->auc, sizeof a->auc) && !memcmp(a->logloss, b->logloss, sizeof a->logloss) &&
           a->mean_auc == b->mean_auc;
}

/* The uninterrupted run against one stopped after `from` epochs in all
 * (its checkpoint holds epoch `from`) and resumed. */
static void resumed_run_agrees(fr_backend *be, const fr_table *t, fr_msmt_arch arch, size_t from, const char *what)
{
    fr_msmt_train_options to = train_options();
    caller full = {{0, 0}, 0, {0}, 0}, part = {{0, 0}, 0, {0}, from}, rest = {{0, 0}, 0, {0}, 0};
    fr_msmt_result rf, rp, rr;
    float *vf = NULL, *vr = NULL;
    size_t nf = 0, nr = 0;
    CHECK_OK(train(be, t, arch, to, &full, &rf, &vf, &nf));
    to.checkpoint.path = path_in("run.ck");
    to.checkpoint.job_fingerprint = "job = run\n";
    CHECK_OK(train(be, t, arch, to, &part, &rp, NULL, NULL));
    CHECK(rp.stopped && (size_t)part.extra[0] == from, "%s: the run to stop stopped %d after %g epochs", what,
          rp.stopped, part.extra[0]);
    to.checkpoint.resume = 1;
    CHECK_OK(train(be, t, arch, to, &rest, &rr, &vr, &nr));
    size_t search = arch == FR_ARCH_AUTOIFS ? to.search_epochs : 0;
    CHECK(rest.resumed && rest.info.epochs_run == from && rest.info.searching == (from <= search) &&
              rest.info.epochs == (from > search ? from - search : 0) && !rest.info.finished,
          "%s: resumed %d after epoch %zu (searching %d, %zu retrain epochs), expected %zu", what, rest.resumed,
          rest.info.epochs_run, rest.info.searching, rest.info.epochs, from);
    CHECK(rest.extra[0] == full.extra[0], "%s: the caller's count came back as %g epochs in all, expected %g", what,
          rest.extra[0], full.extra[0]);
    CHECK(rest.extra[1] == full.extra[1], "%s: the last epoch's loss %.9g, uninterrupted %.9g", what, rest.extra[1],
          full.extra[1]);
    CHECK(nf == nr && vf && vr && !memcmp(vf, vr, nf * sizeof *vf), "%s: the resumed run's parameters differ", what);
    CHECK(rr.epochs == rf.epochs && rr.best_epoch == rf.best_epoch && same_eval(&rr.valid, &rf.valid) &&
              same_eval(&rr.test, &rf.test) && !memcmp(rr.gates, rf.gates, sizeof rr.gates),
          "%s: the resumed run's figures differ (test mean AUC %.9g, uninterrupted %.9g)", what, rr.test.mean_auc,
          rf.test.mean_auc);
    /* Resumed from the end: only the final evaluation, the same. */
    caller again = {{0, 0}, 0, {0}, 0};
    CHECK_OK(train(be, t, arch, to, &again, &rp, NULL, NULL));
    CHECK(again.resumed && again.info.finished && rp.epochs == rf.epochs && same_eval(&rp.test, &rf.test),
          "%s: resumed after the end, finished %d, %zu epochs, test mean AUC %.9g (uninterrupted %zu, %.9g)", what,
          again.info.finished, rp.epochs, rp.test.mean_auc, rf.epochs, rf.test.mean_auc);
    free(vf);
    free(vr);
    unlink(path_in("run.ck"));
    unlink(path_in("run.ck.prev"));
}

/* A resume of `file` refused with status `want` and a message holding
 * each of the texts; the file and a fresh model untouched. */
static void refused(fr_backend *be, const fr_table *t, fr_msmt_arch arch, const char *file, const char *fingerprint,
                    fr_status want, const char *text1, const char *text2, const char *what)
{
    size_t before_n = 0, after_n = 0;
    void *before = read_all(file, &before_n);
    fr_msmt_options o = model_options(arch);
    fr_msmt_model *m = NULL, *fresh = NULL;
    CHECK_OK(fr_msmt_model_create(be, t, &o, &m));
    CHECK_OK(fr_msmt_model_create(be, t, &o, &fresh));
    if (!m || !fresh) {
        fr_msmt_model_free(m);
        fr_msmt_model_free(fresh);
        free(before);
        return;
    }
    fr_msmt_train_options to = train_options();
    to.checkpoint.path = file;
    to.checkpoint.resume = 1;
    to.checkpoint.job_fingerprint = fingerprint;
    fr_msmt_result r;
    int epochs = 0;
    fr_status s = fr_msmt_train(m, t, &to, NULL, &epochs, &r);
    const char *msg = fr_last_error();
    CHECK(s == want, "%s: status %s, expected %s (%s)", what, fr_status_name(s), fr_status_name(want), msg);
    CHECK(strstr(msg, file) && strstr(msg, text1) && (!text2 || strstr(msg, text2)),
          "%s: the message does not say '%s'%s%s: %s", what, text1, text2 ? " and " : "", text2 ? text2 : "", msg);
    void *after = read_all(file, &after_n);
    CHECK(before_n == after_n && (!before || (after && !memcmp(before, after, before_n))), "%s: the file was changed",
          what);
    size_t n = fr_param_set_numel(fr_msmt_model_params(m), FR_ROLES_ALL);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    CHECK_OK(fr_param_set_export(fr_msmt_model_params(m), FR_ROLES_ALL, a, n));
    CHECK_OK(fr_param_set_export(fr_msmt_model_params(fresh), FR_ROLES_ALL, b, n));
    CHECK(!memcmp(a, b, n * sizeof *a), "%s: the refused checkpoint changed the model", what);
    free(a);
    free(b);
    free(before);
    free(after);
    fr_msmt_model_free(m);
    fr_msmt_model_free(fresh);
}

static void bad_files(fr_backend *be, const fr_table *t, const fr_table *other)
{
    /* A good checkpoint of MMoE after 2 epochs, and the one before. */
    fr_msmt_train_options to = train_options();
    to.max_epochs = 2;
    to.checkpoint.path = path_in("good.ck");
    to.checkpoint.job_fingerprint = "job = a\n";
    caller c = {{0, 0}, 0, {0}, 0};
    fr_msmt_result r;
    CHECK_OK(train(be, t, FR_ARCH_MMOE, to, &c, &r, NULL, NULL));
    size_t n = 0;
    unsigned char *good = read_all(path_in("good.ck"), &n);
    CHECK(good && n > 200, "no checkpoint written (%zu bytes)", n);
    CHECK(access(path_in("good.ck.prev"), R_OK) == 0, "the checkpoint before the last was not kept as PATH.prev");
    if (!good || n <= 200) {
        free(good);
        return;
    }
    const char *ck = path_in("bad.ck");
    /* Damaged: cut short, one byte changed (PATH.prev beside it named). */
    write_all(ck, good, n - 9);
    refused(be, t, FR_ARCH_MMOE, ck, "job = a\n", FR_ERR_FORMAT, "the checkpoint is truncated", NULL, "truncated");
    write_all(ck, good, 30);
    refused(be, t, FR_ARCH_MMOE, ck, "job = a\n", FR_ERR_FORMAT, "the checkpoint is truncated", NULL,
            "cut inside its header");
    good[n / 2] ^= 0x40;
    write_all(ck, good, n);
    good[n / 2] ^= 0x40;
    copy_file(path_in("good.ck.prev"), path_in("bad.ck.prev"));
    refused(be, t, FR_ARCH_MMOE, ck, "job = a\n", FR_ERR_FORMAT, "the checkpoint is corrupt (checksum",
            "kept in ", "one byte changed");
    unlink(path_in("bad.ck.prev"));
    /* Another format version: the u32 after the magic. */
    memcpy(good + 8, (unsigned char[]){9, 0, 0, 0}, 4);
    write_all(ck, good, n);
    memcpy(good + 8, (unsigned char[]){1, 0, 0, 0}, 4);
    refused(be, t, FR_ARCH_MMOE, ck, "job = a\n", FR_ERR_FORMAT, "checkpoint version 9, this fedrec reads 1", NULL,
            "version");
    /* Not a checkpoint; the rating jobs' checkpoint (its magic). */
    write_all(ck, "epoch,train_loss\n1,0.5\n", 23);
    refused(be, t, FR_ARCH_MMOE, ck, "job = a\n", FR_ERR_FORMAT, "not a fedrec msmt checkpoint", NULL, "not one");
    memcpy(good, "FRPFREC\n", 8);
    write_all(ck, good, n);
    memcpy(good, "FRMSMTC\n", 8);
    refused(be, t, FR_ARCH_MMOE, ck, "job = a\n", FR_ERR_FORMAT,
            "a checkpoint of the rating jobs (job.kind = pfedrec, fedmf, fedncf or central-mf), not of the centralised multi-scenario job (job.kind = msmt)",
            NULL, "another job's");
    /* Another configuration; another model; other data; no file. */
    write_all(ck, good, n);
    refused(be, t, FR_ARCH_MMOE, ck, "job = b\n", FR_ERR_CONFIG,
            "the checkpoint was written under another configuration, 1 key differs: job: checkpoint a, now b", NULL,
            "another configuration");
    refused(be, t, FR_ARCH_SHARED_BOTTOM, ck, NULL, FR_ERR_FORMAT,
            "the checkpoint is of another model (mmoe; this run: shared-bottom)", NULL, "another model");
    refused(be, other, FR_ARCH_MMOE, ck, "job = a\n", FR_ERR_DATA, "the checkpoint was written on other data",
            "this run's table has", "other data");
    unlink(ck);
    refused(be, t, FR_ARCH_MMOE, ck, "job = a\n", FR_ERR_IO, "cannot open the checkpoint", NULL, "no file");
    free(good);
    unlink(path_in("good.ck"));
    unlink(path_in("good.ck.prev"));
}

int main(void)
{
    fr_backend_options bo;
    fr_backend_options_default(&bo);
    bo.kind = FR_BACKEND_CPU;
    bo.threads = 2;
    fr_backend *be = NULL;
    CHECK_OK(fr_backend_open(&bo, &be));
    snprintf(dir, sizeof dir, "%s/fr_msmtck.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!be || !mkdtemp(dir))
        return fr_test_finish("test_msmt_checkpoint");
    fr_msmt_synth so;
    fr_msmt_synth_default(&so);
    so.rows = 1500;
    so.vocab = 6;
    so.scenarios = 3;
    fr_table t, other;
    CHECK_OK(fr_msmt_synth_make(&so, &t));
    so.seed = 1; /* the same shape, other rows */
    CHECK_OK(fr_msmt_synth_make(&so, &other));

    resumed_run_agrees(be, &t, FR_ARCH_MMOE, 2, "MMoE resumed after epoch 2");
    resumed_run_agrees(be, &t, FR_ARCH_AUTOIFS, 1, "AutoIFS resumed in its search, before the rewind");
    resumed_run_agrees(be, &t, FR_ARCH_AUTOIFS, 2, "AutoIFS resumed in its search, after the rewind");
    resumed_run_agrees(be, &t, FR_ARCH_AUTOIFS, 3, "AutoIFS resumed at the end of its search");
    resumed_run_agrees(be, &t, FR_ARCH_AUTOIFS, 5, "AutoIFS resumed in its retrain");
    bad_files(be, &t, &other);

    fr_table_free(&t);
    fr_table_free(&other);
    rmdir(dir);
    fr_backend_close(be);
    return fr_test_finish("test_msmt_checkpoint");
}
