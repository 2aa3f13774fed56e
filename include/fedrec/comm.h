/* fedrec/comm.h — the ranks of a multi-process job and the collectives the
 * federated engines exchange their clients' results with.
 *
 * A job runs on one rank (a plain process) or, in a build configured with
 * --with-mpi and started by mpirun / mpiexec, on MPI's ranks. The engines
 * see only this interface: byte-buffer collectives whose results arrive in
 * rank order, so an engine can combine them in a fixed order of its own
 * (client ids) and stay bit-identical to the one-rank run; nothing here
 * relies on MPI_Allreduce's order. Messages of any size are carried (MPI's
 * int counts are side-stepped with 256-byte blocks).
 *
 * Every function but send and receive is collective: all ranks call it in
 * the same order. A
 * failed MPI call returns FR_ERR_COMM with MPI's message; a rank that dies
 * makes the launcher end the job. The traffic counters add up the payload
 * bytes this rank sent to and received from other ranks (what a
 * point-to-point exchange of the same data would move; the algorithm MPI
 * picks may move more or less on the wire). */
#ifndef FEDREC_COMM_H
#define FEDREC_COMM_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fr_comm fr_comm;

/* The job's ranks. Under an MPI launcher in an MPI build: MPI (initialised
 * here unless the caller already did, funnelled threading: only the
 * calling thread talks to MPI). Otherwise one rank. Under an MPI launcher
 * with several ranks in a build without MPI: FR_ERR_UNSUPPORTED (every
 * process would run the whole job and write the same files). */
fr_status fr_comm_open(int *argc, char ***argv, fr_comm **out);
/* A one-rank communicator, whatever the build (tests, library users). */
fr_status fr_comm_open_single(fr_comm **out);
/* Finalises MPI if fr_comm_open initialised it. */
void fr_comm_close(fr_comm *c);

int fr_comm_rank(const fr_comm *c);
int fr_comm_size(const fr_comm *c);
/* "single process" or "MPI (Open MPI v4.1.4), 3 ranks". */
const char *fr_comm_describe(const fr_comm *c);
/* This rank's host name (MPI's processor name, or gethostname). */
const char *fr_comm_host(const fr_comm *c);
/* Whether this build can run several ranks. */
int fr_comm_mpi_built(void);

/* Every rank's `bytes` bytes, concatenated in rank order, into *recv
 * (malloc'd, the caller frees; never NULL on success); counts[r] gets rank
 * r's length (counts has size() entries). */
fr_status fr_comm_allgather(fr_comm *c, const void *send, size_t bytes, void **recv, size_t *counts);
/* send holds size() consecutive chunks, chunk r (send_counts[r] bytes) for
 * rank r; *recv (malloc'd) gets the chunks addressed to this rank, in
 * rank order, recv_counts[r] bytes from rank r. */
fr_status fr_comm_alltoall(fr_comm *c, const void *send, const size_t *send_counts, void **recv,
                           size_t *recv_counts);
/* Every rank's bytes to root, concatenated in rank order (*recv and counts
 * are set on root only; *recv is NULL elsewhere). */
fr_status fr_comm_gather(fr_comm *c, int root, const void *send, size_t bytes, void **recv, size_t *counts);
/* root's bytes bytes into every rank's buf (bytes equal on all ranks). */
fr_status fr_comm_bcast(fr_comm *c, int root, void *buf, size_t bytes);
/* The largest of every rank's `local` into *out on every rank (one small
 * MPI_Allreduce; one rank: local). For flags the ranks must act on
 * together, such as a stop asked of one of them by a signal. */
fr_status fr_comm_max_int(fr_comm *c, int local, int *out);
/* Point to point, for exchanges in a fixed rank order: `bytes` bytes to
 * rank `to`; a message from rank `from` into *buf (malloc'd, the caller
 * frees) of *bytes bytes. Only the two ranks involved call these. */
fr_status fr_comm_send(fr_comm *c, int to, const void *buf, size_t bytes);
fr_status fr_comm_recv(fr_comm *c, int from, void **buf, size_t *bytes);
/* The job's common verdict: FR_OK if every rank passes FR_OK, else the
 * status and message of the lowest failing rank, on every rank (the
 * message becomes this thread's last error). fr_comm_error_shared then
 * says the failure is known to all ranks. */
fr_status fr_comm_agree(fr_comm *c, fr_status local);
/* The same with this rank's message given (a caller's own failure). */
fr_status fr_comm_agree_message(fr_comm *c, fr_status local, const char *message);
int fr_comm_error_shared(const fr_comm *c);
/* Check that every rank built the same job: each passes a fingerprint of
 * `bytes` bytes (equal sizes on all ranks) of what must agree (data,
 * options); a rank whose fingerprint differs from rank 0's fails the
 * check on every rank with FR_ERR_CONFIG, "rank r of K: <what> differ
 * from rank 0's". */
fr_status fr_comm_same(fr_comm *c, const void *fingerprint, size_t bytes, const char *what);
/* Check that every rank runs the same job: its configuration fingerprint
 * (fr_config_fingerprint, fedrec/config.h; NULL: none) and a hash of its
 * data's contents (data_what names them: "rating data"). A rank that
 * differs from rank 0 fails the check on every rank, with the keys that
 * differ and both values (FR_ERR_CONFIG), or else the data
 * (FR_ERR_DATA): "rank r of K: the configuration differs from rank 0's in
 * 1 key: fed.clip_norm: rank 0 1, rank r 0 (...)". Collective. */
fr_status fr_comm_same_job(fr_comm *c, const char *config_fingerprint, uint64_t data_fingerprint,
                           const char *data_what);

/* Payload bytes this rank sent and received so far. */
void fr_comm_traffic(const fr_comm *c, uint64_t *sent, uint64_t *received);
/* End every rank of the job now (MPI_Abort; exit(code) on one rank). For
 * a program's main, after it has reported its error: a library never
 * calls it. */
void fr_comm_abort(fr_comm *c, int code);

#ifdef __cplusplus
}
#endif
#endif
