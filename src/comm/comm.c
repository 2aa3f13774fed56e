/* comm.c — the job's ranks (see fedrec/comm.h): opening and closing, the
 * one-rank paths of every collective, the verdict of fr_comm_agree and the
 * traffic counters; the MPI calls themselves live in comm_mpi.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm/comm_internal.h"
#include "core/error_internal.h"
#include "fedrec/config.h"

int fr_comm_mpi_built(void)
{
#ifdef FR_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

int fr_comm_launcher_size(void)
{
    /* Open MPI, MPICH / Intel MPI (Hydra's PMI), PMIx launchers; some
     * name only the rank, then the size is unknown here (-1). */
    static const char *const size_vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"};
    static const char *const rank_vars[] = {"PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof size_vars / sizeof size_vars[0]; i++) {
        const char *v = getenv(size_vars[i]);
        if (v && atoi(v) > 0)
            return atoi(v);
    }
    for (size_t i = 0; i < sizeof rank_vars / sizeof rank_vars[0]; i++)
        if (getenv(rank_vars[i]))
            return -1;
    return 0;
}

static fr_status single(fr_comm **out)
{
    fr_comm *c = calloc(1, sizeof *c);
    if (!c)
        return fr_fail_nomem("communicator", sizeof *c);
    c->size = 1;
    snprintf(c->describe, sizeof c->describe, "single process");
    if (gethostname(c->host, sizeof c->host - 1) != 0)
        snprintf(c->host, sizeof c->host, "localhost");
    *out = c;
    return FR_OK;
}

fr_status fr_comm_open_single(fr_comm **out)
{
    *out = NULL;
    return single(out);
}

fr_status fr_comm_open(int *argc, char ***argv, fr_comm **out)
{
    *out = NULL;
    int launched = fr_comm_launcher_size();
#ifdef FR_HAVE_MPI
    if (launched != 0) {
        FR_TRY(single(out));
        fr_status s = fr_mpi_open(*out, argc, argv);
        if (s != FR_OK) {
            free(*out);
            *out = NULL;
        }
        return s;
    }
#else
    (void)argc;
    (void)argv;
    if (launched > 1)
        return fr_fail(FR_ERR_UNSUPPORTED, "started by an MPI launcher with %d ranks, but this fedrec was built without MPI: reconfigure with --with-mpi (every rank would otherwise run the whole job and write the same files)",
                       launched);
#endif
    (void)launched;
    return single(out);
}

void fr_comm_close(fr_comm *c)
{
    if (!c)
        return;
#ifdef FR_HAVE_MPI
    if (c->mpi)
        fr_mpi_close(c);
#endif
    free(c);
}

int fr_comm_rank(const fr_comm *c)
{
    return c->rank;
}

int fr_comm_size(const fr_comm *c)
{
    return c->size;
}

const char *fr_comm_describe(const fr_comm *c)
{
    return c->describe;
}

const char *fr_comm_host(const fr_comm *c)
{
    return c->host;
}

int fr_comm_error_shared(const fr_comm *c)
{
    return c->error_shared;
}

void fr_comm_traffic(const fr_comm *c, uint64_t *sent, uint64_t *received)
{
    *sent = c->sent;
    *received = c->received;
}

static void *copy_of(const void *src, size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (p && bytes)
        memcpy(p, src, bytes);
    return p;
}

fr_status fr_comm_allgather(fr_comm *c, const void *send, size_t bytes, void **recv, size_t *counts)
{
    *recv = NULL;
    (void)c;
#ifdef FR_HAVE_MPI
    if (c->mpi)
        return fr_mpi_allgather(c, send, bytes, recv, counts);
#endif
    if (!(*recv = copy_of(send, bytes)))
        return fr_fail_nomem("gathered data", bytes);
    counts[0] = bytes;
    return FR_OK;
}

fr_status fr_comm_alltoall(fr_comm *c, const void *send, const size_t *send_counts, void **recv,
                           size_t *recv_counts)
{
    *recv = NULL;
    (void)c;
#ifdef FR_HAVE_MPI
    if (c->mpi)
        return fr_mpi_alltoall(c, send, send_counts, recv, recv_counts);
#endif
    if (!(*recv = copy_of(send, send_counts[0])))
        return fr_fail_nomem("exchanged data", send_counts[0]);
    recv_counts[0] = send_counts[0];
    return FR_OK;
}

fr_status fr_comm_gather(fr_comm *c, int root, const void *send, size_t bytes, void **recv, size_t *counts)
{
    *recv = NULL;
    if (root < 0 || root >= c->size)
        return fr_fail(FR_ERR_INVALID, "gather: root rank %d of %d", root, c->size);
#ifdef FR_HAVE_MPI
    if (c->mpi)
        return fr_mpi_gather(c, root, send, bytes, recv, counts);
#endif
    if (!(*recv = copy_of(send, bytes)))
        return fr_fail_nomem("gathered data", bytes);
    counts[0] = bytes;
    return FR_OK;
}

fr_status fr_comm_max_int(fr_comm *c, int local, int *out)
{
#ifdef FR_HAVE_MPI
    if (c->mpi)
        return fr_mpi_max_int(c, local, out);
#endif
    (void)c;
    *out = local;
    return FR_OK;
}

fr_status fr_comm_bcast(fr_comm *c, int root, void *buf, size_t bytes)
{
    if (root < 0 || root >= c->size)
        return fr_fail(FR_ERR_INVALID, "broadcast: root rank %d of %d", root, c->size);
#ifdef FR_HAVE_MPI
    if (c->mpi)
        return fr_mpi_bcast(c, root, buf, bytes);
#endif
    (void)buf;
    (void)bytes;
    return FR_OK;
}

fr_status fr_comm_send(fr_comm *c, int to, const void *buf, size_t bytes)
{
    if (to < 0 || to >= c->size || to == c->rank)
        return fr_fail(FR_ERR_INVALID, "send: rank %d of %d (this is rank %d)", to, c->size, c->rank);
#ifdef FR_HAVE_MPI
    if (c->mpi)
        return fr_mpi_send(c, to, buf, bytes);
#endif
    (void)buf;
    (void)bytes;
    return FR_ERR_INVALID; /* unreachable: one rank has nobody to send to */
}

fr_status fr_comm_recv(fr_comm *c, int from, void **buf, size_t *bytes)
{
    *buf = NULL;
    *bytes = 0;
    if (from < 0 || from >= c->size || from == c->rank)
        return fr_fail(FR_ERR_INVALID, "receive: rank %d of %d (this is rank %d)", from, c->size, c->rank);
#ifdef FR_HAVE_MPI
    if (c->mpi)
        return fr_mpi_recv(c, from, buf, bytes);
#endif
    return FR_ERR_INVALID;
}

/* What fr_comm_agree moves: a rank's status and message. */
typedef struct verdict {
    int32_t status;
    char message[1020];
} verdict;

fr_status fr_comm_agree(fr_comm *c, fr_status local)
{
    return fr_comm_agree_message(c, local, local != FR_OK ? fr_last_error() : "");
}

fr_status fr_comm_agree_message(fr_comm *c, fr_status local, const char *message)
{
    c->error_shared = 0;
    if (c->size == 1) {
        if (local != FR_OK && message != fr_last_error())
            fr_fail(local, "%s", message);
        c->error_shared = local != FR_OK;
        return local;
    }
    verdict mine;
    memset(&mine, 0, sizeof mine);
    mine.status = (int32_t)local;
    if (local != FR_OK)
        snprintf(mine.message, sizeof mine.message, "%s", message);
    void *all;
    size_t counts[1024];
    size_t *cnt = c->size <= 1024 ? counts : malloc((size_t)c->size * sizeof *cnt);
    if (!cnt)
        return fr_fail_nomem("verdicts", (size_t)c->size * sizeof *cnt);
    fr_status s = fr_comm_allgather(c, &mine, sizeof mine, &all, cnt);
    if (cnt != counts)
        free(cnt);
    if (s != FR_OK)
        return s;
    const verdict *v = all;
    for (int r = 0; r < c->size; r++)
        if (v[r].status != FR_OK) {
            fr_status st = (fr_status)v[r].status;
            if (r == c->rank)
                fr_fail(st, "%s", v[r].message);
            else
                fr_fail(st, "rank %d of %d: %s", r, c->size, v[r].message);
            c->error_shared = 1;
            free(all);
            return st;
        }
    free(all);
    return FR_OK;
}

void fr_comm_abort(fr_comm *c, int code)
{
#ifdef FR_HAVE_MPI
    if (c && c->mpi)
        fr_mpi_abort(c, code);
#endif
    (void)c;
    fflush(NULL);
    exit(code);
}

fr_status fr_comm_same(fr_comm *c, const void *fingerprint, size_t bytes, const char *what)
{
    if (c->size == 1)
        return FR_OK;
    void *all = NULL;
    size_t *counts = malloc((size_t)c->size * sizeof *counts);
    if (!counts)
        return fr_fail_nomem("fingerprints", (size_t)c->size * sizeof *counts);
    fr_status s = fr_comm_allgather(c, fingerprint, bytes, &all, counts);
    fr_status differs = FR_OK;
    for (int r = 1; s == FR_OK && r < c->size && differs == FR_OK; r++)
        if (counts[r] != bytes || memcmp((const char *)all + (size_t)r * bytes, all, bytes) != 0)
            differs = fr_fail(FR_ERR_CONFIG, "rank %d of %d: %s differ from rank 0's (every rank must read the same data and configuration)",
                              r, c->size, what);
    free(all);
    free(counts);
    if (s != FR_OK)
        return s;
    /* Every rank compared the same fingerprints: the verdict is shared. */
    c->error_shared = differs != FR_OK;
    return differs;
}

fr_status fr_comm_same_job(fr_comm *c, const char *config_fingerprint, uint64_t data_fingerprint,
                           const char *data_what)
{
    if (c->size == 1)
        return FR_OK;
    /* Rank 0's fingerprint to every rank; each compares its own with it,
     * so that the message can name the keys. */
    const char *mine = config_fingerprint ? config_fingerprint : "";
    uint64_t head[2] = {(uint64_t)strlen(mine) + 1, data_fingerprint};
    FR_TRY(fr_comm_bcast(c, 0, head, sizeof head));
    char *root = c->rank == 0 ? (char *)mine : malloc((size_t)head[0]);
    fr_status s = root ? FR_OK : fr_fail_nomem("rank 0's configuration", (size_t)head[0]);
    s = fr_comm_agree(c, s);
    if (s != FR_OK) {
        if (root != mine)
            free(root);
        return s;
    }
    s = fr_comm_bcast(c, 0, root, (size_t)head[0]);
    if (s != FR_OK) {
        if (root != mine)
            free(root);
        return s;
    }
    root[head[0] - 1] = '\0';
    char differences[600], label[32], message[1020];
    fr_status differs = FR_OK;
    snprintf(label, sizeof label, "rank %d", c->rank);
    size_t n = fr_config_fingerprint_compare(root, mine, 0, "rank 0", label, differences, sizeof differences);
    if (n == FR_CONFIG_COMPARE_NOMEM) {
        snprintf(message, sizeof message, "out of memory comparing the configuration with rank 0's");
        differs = FR_ERR_NOMEM;
    } else if (n > 0) {
        char free_keys[200];
        fr_config_rule_keys(FR_FP_PER_RANK, free_keys, sizeof free_keys);
        snprintf(message, sizeof message, "the configuration differs from rank 0's in %zu key%s: %s (every rank must run the same job; only %s may differ)",
                 n, n == 1 ? "" : "s", differences, free_keys);
        differs = FR_ERR_CONFIG;
    } else if (head[1] != data_fingerprint) {
        snprintf(message, sizeof message, "the contents of its %s differ from rank 0's (fingerprint %016llx, rank 0: %016llx): every rank must read the same data",
                 data_what, (unsigned long long)data_fingerprint, (unsigned long long)head[1]);
        differs = FR_ERR_DATA;
    }
    if (root != mine)
        free(root);
    return fr_comm_agree_message(c, differs, differs == FR_OK ? "" : message);
}
