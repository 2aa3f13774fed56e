/* comm_mpi.c — the collectives of fedrec/comm.h on MPI (built with
 * --with-mpi only).
 *
 * The lengths are exchanged first. When every count and displacement of a
 * call fits MPI's int, the payload travels as bytes straight from and into
 * the callers' buffers; past that (a collective over 2 GiB) it travels as
 * 256-byte blocks (a contiguous MPI type, reaching 512 GiB): each chunk is
 * copied into a padded buffer and the receiver closes the padding up. All
 * ranks of a call take the same way (decided from lengths all of them
 * know, or agreed by MPI_Allreduce). Errors return (MPI_ERRORS_RETURN)
 * with MPI's own message. */
#include "config.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm_internal.h"
#include "core/error_internal.h"

#define BLOCK 256

static MPI_Datatype block_type = MPI_DATATYPE_NULL;

static fr_status mpi_failed(const char *what, int code)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", code);
    return fr_fail(FR_ERR_COMM, "%s failed: %s (did another rank of the job end?)", what, text);
}

#define MPI_TRY(what, call)                  \
    do {                                     \
        int mpi_rc_ = (call);                \
        if (mpi_rc_ != MPI_SUCCESS)          \
            return mpi_failed(what, mpi_rc_); \
    } while (0)

static size_t blocks_of(size_t bytes)
{
    return (bytes + BLOCK - 1) / BLOCK;
}

fr_status fr_mpi_open(fr_comm *c, int *argc, char ***argv)
{
    int ready = 0, provided = 0;
    MPI_Initialized(&ready);
    if (!ready) {
        /* Ranks of a federated job wait for each other at every exchange;
         * Open MPI's default spinning there takes the core a working rank
         * (or its threads) could use. Yield instead, unless the user chose. */
        setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return fr_fail(FR_ERR_COMM, "MPI_Init_thread failed: is this process started by mpirun/mpiexec of the MPI fedrec was built with?");
        c->finalize = 1;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    c->mpi = 1;
    if (block_type == MPI_DATATYPE_NULL) {
        MPI_TRY("MPI_Type_contiguous", MPI_Type_contiguous(BLOCK, MPI_BYTE, &block_type));
        MPI_TRY("MPI_Type_commit", MPI_Type_commit(&block_type));
    }
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(lib, &len);
    lib[strcspn(lib, ",\n")] = '\0'; /* "Open MPI v4.1.4" / "MPICH Version: 4.0.2" */
    snprintf(c->describe, sizeof c->describe, "MPI (%.80s), %d rank%s", lib, c->size, c->size == 1 ? "" : "s");
    char name[MPI_MAX_PROCESSOR_NAME];
    if (MPI_Get_processor_name(name, &len) == MPI_SUCCESS)
        snprintf(c->host, sizeof c->host, "%s", name);
    return FR_OK;
}

void fr_mpi_close(fr_comm *c)
{
    if (block_type != MPI_DATATYPE_NULL) {
        MPI_Type_free(&block_type);
        block_type = MPI_DATATYPE_NULL;
    }
    if (c->finalize)
        MPI_Finalize();
}

void fr_mpi_abort(fr_comm *c, int code)
{
    (void)c;
    fflush(NULL);
    MPI_Abort(MPI_COMM_WORLD, code);
}

/* Block counts and displacements of `n` lengths; fails if a count or a
 * displacement would pass INT_MAX blocks. */
static fr_status layout(const uint64_t *lengths, int n, int *count, int *displ, size_t *total_blocks)
{
    size_t at = 0;
    for (int r = 0; r < n; r++) {
        size_t b = blocks_of((size_t)lengths[r]);
        if (b > INT_MAX || at > INT_MAX)
            return fr_fail(FR_ERR_UNSUPPORTED, "a message of %llu bytes is more than MPI can carry in one call here (512 GiB)",
                           (unsigned long long)lengths[r]);
        count[r] = (int)b;
        displ[r] = (int)at;
        at += b;
    }
    *total_blocks = at;
    return FR_OK;
}

/* Byte counts and displacements of n lengths if they all fit an int. */
static int byte_layout(const uint64_t *lengths, int n, int *count, int *displ)
{
    uint64_t at = 0;
    for (int r = 0; r < n; r++) {
        if (lengths[r] > INT_MAX || at > INT_MAX)
            return 0;
        count[r] = (int)lengths[r];
        displ[r] = (int)at;
        at += lengths[r];
    }
    return at <= INT_MAX;
}

/* Whether every rank can move this call as bytes (local: this rank can). */
static fr_status agree_bytes(int local, int *all)
{
    MPI_TRY("MPI_Allreduce", MPI_Allreduce(&local, all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD));
    return FR_OK;
}

/* Close up the padding of n chunks in buf (lengths, at block offsets). */
static void compact(char *buf, const uint64_t *lengths, const int *displ, int n, size_t *counts)
{
    size_t at = 0;
    for (int r = 0; r < n; r++) {
        memmove(buf + at, buf + (size_t)displ[r] * BLOCK, (size_t)lengths[r]);
        counts[r] = (size_t)lengths[r];
        at += (size_t)lengths[r];
    }
}

typedef struct plan {
    uint64_t *lengths;
    int *count, *displ;
} plan;

static fr_status plan_alloc(plan *p, int n)
{
    p->lengths = calloc((size_t)n, sizeof *p->lengths);
    p->count = calloc((size_t)n, sizeof *p->count);
    p->displ = calloc((size_t)n, sizeof *p->displ);
    if (!p->lengths || !p->count || !p->displ)
        return fr_fail_nomem("message plan", (size_t)n * 16);
    return FR_OK;
}

static void plan_free(plan *p)
{
    free(p->lengths);
    free(p->count);
    free(p->displ);
}

static fr_status allgather_run(fr_comm *c, const void *send, size_t bytes, void **recv, size_t *counts,
                               plan *in)
{
    uint64_t mine = bytes;
    MPI_TRY("MPI_Allgather", MPI_Allgather(&mine, 1, MPI_UINT64_T, in->lengths, 1, MPI_UINT64_T, MPI_COMM_WORLD));
    c->sent += (uint64_t)(c->size - 1) * (bytes + 8);
    for (int r = 0; r < c->size; r++)
        if (r != c->rank)
            c->received += in->lengths[r] + 8;
    if (byte_layout(in->lengths, c->size, in->count, in->displ)) {
        size_t total = (size_t)in->displ[c->size - 1] + (size_t)in->lengths[c->size - 1];
        char *all = malloc(total ? total : 1);
        if (!all)
            return fr_fail_nomem("gathered data", total);
        int rc = MPI_Allgatherv(send, (int)bytes, MPI_BYTE, all, in->count, in->displ, MPI_BYTE, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) {
            free(all);
            return mpi_failed("MPI_Allgatherv", rc);
        }
        for (int r = 0; r < c->size; r++)
            counts[r] = (size_t)in->lengths[r];
        *recv = all;
        return FR_OK;
    }
    size_t total;
    FR_TRY(layout(in->lengths, c->size, in->count, in->displ, &total));
    char *padded = calloc(blocks_of(bytes) ? blocks_of(bytes) : 1, BLOCK);
    char *all = malloc(total ? total * BLOCK : 1);
    if (!padded || !all) {
        free(padded);
        free(all);
        return fr_fail_nomem("gathered data", total * BLOCK);
    }
    if (bytes)
        memcpy(padded, send, bytes);
    int rc = MPI_Allgatherv(padded, (int)blocks_of(bytes), block_type, all, in->count, in->displ, block_type,
                            MPI_COMM_WORLD);
    free(padded);
    if (rc != MPI_SUCCESS) {
        free(all);
        return mpi_failed("MPI_Allgatherv", rc);
    }
    compact(all, in->lengths, in->displ, c->size, counts);
    *recv = all;
    return FR_OK;
}

fr_status fr_mpi_allgather(fr_comm *c, const void *send, size_t bytes, void **recv, size_t *counts)
{
    plan in;
    fr_status s = plan_alloc(&in, c->size);
    if (s == FR_OK)
        s = allgather_run(c, send, bytes, recv, counts, &in);
    plan_free(&in);
    return s;
}

static fr_status alltoall_run(fr_comm *c, const void *send, const size_t *send_counts, void **recv,
                              size_t *recv_counts, plan *out, plan *in)
{
    for (int r = 0; r < c->size; r++)
        out->lengths[r] = send_counts[r];
    MPI_TRY("MPI_Alltoall", MPI_Alltoall(out->lengths, 1, MPI_UINT64_T, in->lengths, 1, MPI_UINT64_T,
                                         MPI_COMM_WORLD));
    for (int r = 0; r < c->size; r++)
        if (r != c->rank) {
            c->sent += out->lengths[r] + 8;
            c->received += in->lengths[r] + 8;
        }
    int bytes_ok = byte_layout(out->lengths, c->size, out->count, out->displ) &&
                   byte_layout(in->lengths, c->size, in->count, in->displ);
    FR_TRY(agree_bytes(bytes_ok, &bytes_ok));
    if (bytes_ok) {
        size_t total = (size_t)in->displ[c->size - 1] + (size_t)in->lengths[c->size - 1];
        char *all = malloc(total ? total : 1);
        if (!all)
            return fr_fail_nomem("exchanged data", total);
        int rc = MPI_Alltoallv(send, out->count, out->displ, MPI_BYTE, all, in->count, in->displ, MPI_BYTE,
                               MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) {
            free(all);
            return mpi_failed("MPI_Alltoallv", rc);
        }
        for (int r = 0; r < c->size; r++)
            recv_counts[r] = (size_t)in->lengths[r];
        *recv = all;
        return FR_OK;
    }
    size_t total_out, total_in;
    FR_TRY(layout(out->lengths, c->size, out->count, out->displ, &total_out));
    FR_TRY(layout(in->lengths, c->size, in->count, in->displ, &total_in));
    char *padded = calloc(total_out ? total_out : 1, BLOCK);
    char *all = malloc(total_in ? total_in * BLOCK : 1);
    if (!padded || !all) {
        free(padded);
        free(all);
        return fr_fail_nomem("exchanged data", (total_in + total_out) * BLOCK);
    }
    const char *from = send;
    for (int r = 0; r < c->size; r++) {
        memcpy(padded + (size_t)out->displ[r] * BLOCK, from, send_counts[r]);
        from += send_counts[r];
    }
    int rc = MPI_Alltoallv(padded, out->count, out->displ, block_type, all, in->count, in->displ, block_type,
                           MPI_COMM_WORLD);
    free(padded);
    if (rc != MPI_SUCCESS) {
        free(all);
        return mpi_failed("MPI_Alltoallv", rc);
    }
    compact(all, in->lengths, in->displ, c->size, recv_counts);
    *recv = all;
    return FR_OK;
}

fr_status fr_mpi_alltoall(fr_comm *c, const void *send, const size_t *send_counts, void **recv,
                          size_t *recv_counts)
{
    plan out, in;
    memset(&out, 0, sizeof out);
    fr_status s = plan_alloc(&in, c->size);
    if (s == FR_OK)
        s = plan_alloc(&out, c->size);
    if (s == FR_OK)
        s = alltoall_run(c, send, send_counts, recv, recv_counts, &out, &in);
    plan_free(&in);
    plan_free(&out);
    return s;
}

static fr_status gather_run(fr_comm *c, int root, const void *send, size_t bytes, void **recv, size_t *counts,
                            plan *in)
{
    uint64_t mine = bytes;
    MPI_TRY("MPI_Gather", MPI_Gather(&mine, 1, MPI_UINT64_T, in->lengths, 1, MPI_UINT64_T, root, MPI_COMM_WORLD));
    size_t total = 0;
    if (c->rank == root)
        FR_TRY(layout(in->lengths, c->size, in->count, in->displ, &total));
    char *padded = calloc(blocks_of(bytes) ? blocks_of(bytes) : 1, BLOCK);
    char *all = c->rank == root ? malloc(total ? total * BLOCK : 1) : NULL;
    if (!padded || (c->rank == root && !all)) {
        free(padded);
        free(all);
        return fr_fail_nomem("gathered data", total * BLOCK);
    }
    if (bytes)
        memcpy(padded, send, bytes);
    int rc = MPI_Gatherv(padded, (int)blocks_of(bytes), block_type, all, in->count, in->displ, block_type, root,
                         MPI_COMM_WORLD);
    free(padded);
    if (rc != MPI_SUCCESS) {
        free(all);
        return mpi_failed("MPI_Gatherv", rc);
    }
    if (c->rank == root) {
        compact(all, in->lengths, in->displ, c->size, counts);
        *recv = all;
        for (int r = 0; r < c->size; r++)
            if (r != root)
                c->received += in->lengths[r] + 8;
    } else {
        c->sent += bytes + 8;
    }
    return FR_OK;
}

fr_status fr_mpi_gather(fr_comm *c, int root, const void *send, size_t bytes, void **recv, size_t *counts)
{
    plan in;
    fr_status s = plan_alloc(&in, c->size);
    if (s == FR_OK)
        s = gather_run(c, root, send, bytes, recv, counts, &in);
    plan_free(&in);
    return s;
}

fr_status fr_mpi_bcast(fr_comm *c, int root, void *buf, size_t bytes)
{
    /* Whole blocks through the block type, the tail as bytes. */
    size_t whole = bytes / BLOCK, tail = bytes % BLOCK;
    char *p = buf;
    while (whole > 0) {
        int n = whole > INT_MAX ? INT_MAX : (int)whole;
        MPI_TRY("MPI_Bcast", MPI_Bcast(p, n, block_type, root, MPI_COMM_WORLD));
        p += (size_t)n * BLOCK;
        whole -= (size_t)n;
    }
    if (tail)
        MPI_TRY("MPI_Bcast", MPI_Bcast(p, (int)tail, MPI_BYTE, root, MPI_COMM_WORLD));
    if (c->rank == root)
        c->sent += (uint64_t)(c->size - 1) * bytes;
    else
        c->received += bytes;
    return FR_OK;
}

fr_status fr_mpi_max_int(fr_comm *c, int local, int *out)
{
    MPI_TRY("MPI_Allreduce", MPI_Allreduce(&local, out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    /* What a point-to-point exchange of the value would move. */
    c->sent += (uint64_t)(c->size - 1) * sizeof local;
    c->received += (uint64_t)(c->size - 1) * sizeof local;
    return FR_OK;
}

/* Point to point: the length, then the payload in pieces MPI's int can
 * count. */
#define PIECE ((size_t)1 << 30)
enum { TAG_LENGTH = 7101, TAG_PAYLOAD = 7102 };

fr_status fr_mpi_send(fr_comm *c, int to, const void *buf, size_t bytes)
{
    uint64_t n = bytes;
    MPI_TRY("MPI_Send", MPI_Send(&n, 1, MPI_UINT64_T, to, TAG_LENGTH, MPI_COMM_WORLD));
    for (size_t at = 0; at < bytes; at += PIECE) {
        size_t len = bytes - at < PIECE ? bytes - at : PIECE;
        MPI_TRY("MPI_Send", MPI_Send((const char *)buf + at, (int)len, MPI_BYTE, to, TAG_PAYLOAD, MPI_COMM_WORLD));
    }
    c->sent += bytes + 8;
    return FR_OK;
}

fr_status fr_mpi_recv(fr_comm *c, int from, void **buf, size_t *bytes)
{
    uint64_t n = 0;
    MPI_TRY("MPI_Recv", MPI_Recv(&n, 1, MPI_UINT64_T, from, TAG_LENGTH, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    char *data = malloc(n ? (size_t)n : 1);
    if (!data)
        return fr_fail_nomem("received data", (size_t)n);
    for (size_t at = 0; at < (size_t)n; at += PIECE) {
        size_t len = (size_t)n - at < PIECE ? (size_t)n - at : PIECE;
        int rc = MPI_Recv(data + at, (int)len, MPI_BYTE, from, TAG_PAYLOAD, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) {
            free(data);
            return mpi_failed("MPI_Recv", rc);
        }
    }
    *buf = data;
    *bytes = (size_t)n;
    c->received += n + 8;
    return FR_OK;
}
