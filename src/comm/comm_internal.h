/* comm_internal.h — the communicator's state and the MPI half of its
 * operations (internal): comm.c holds the one-rank paths and the traffic
 * counters, comm_mpi.c (built with --with-mpi only) the MPI calls. */
#ifndef FR_COMM_INTERNAL_H
#define FR_COMM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/comm.h"

struct fr_comm {
    int rank, size;
    int mpi;             /* MPI carries the collectives */
    int finalize;        /* fr_comm_close finalises MPI */
    int error_shared;    /* the last fr_comm_agree failed on some rank */
    uint64_t sent, received;
    char describe[128];
    char host[256];
};

/* Started by an MPI launcher: the world size it announces (-1: a launcher
 * that names the rank only; 0: no launcher). */
int fr_comm_launcher_size(void);

#ifdef FR_HAVE_MPI
fr_status fr_mpi_open(fr_comm *c, int *argc, char ***argv);
void fr_mpi_close(fr_comm *c);
fr_status fr_mpi_allgather(fr_comm *c, const void *send, size_t bytes, void **recv, size_t *counts);
fr_status fr_mpi_alltoall(fr_comm *c, const void *send, const size_t *send_counts, void **recv,
                          size_t *recv_counts);
fr_status fr_mpi_gather(fr_comm *c, int root, const void *send, size_t bytes, void **recv, size_t *counts);
fr_status fr_mpi_bcast(fr_comm *c, int root, void *buf, size_t bytes);
fr_status fr_mpi_max_int(fr_comm *c, int local, int *out);
fr_status fr_mpi_send(fr_comm *c, int to, const void *buf, size_t bytes);
fr_status fr_mpi_recv(fr_comm *c, int from, void **buf, size_t *bytes);
void fr_mpi_abort(fr_comm *c, int code);
#endif

#endif
