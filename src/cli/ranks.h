/* ranks.h — what `fedrec train` does for a multi-rank job (ranks.c): each
 * rank's own backend settings ([rank] keys, FEDREC_* environment), the
 * table of which device each rank uses, and the per-round, per-rank
 * communication report rank 0 writes. */
#ifndef FR_CLI_RANKS_H
#define FR_CLI_RANKS_H

#include <stdint.h>
#include <stdio.h>
#include "fedrec/comm.h"
#include "fedrec/config.h"
#include "fedrec/participation.h"

/* Apply this rank's entries of rank.backend / threads / cpu_isa / device,
 * then FEDREC_BACKEND / FEDREC_THREADS / FEDREC_CPU_ISA / FEDREC_DEVICE,
 * to backend.kind / threads / cpu_isa and opencl.device. */
fr_status fr_cli_rank_overrides(fr_config *cfg, int rank);

/* The fed.* keys (placement over ranks, deadline, quorum) both federated
 * jobs read. */
fr_status fr_cli_participation(const fr_config *cfg, fr_participation *p);
/* The federation core's screening keys, read alike by every federated job:
 * fed.clip_norm, fault.nan, fault.huge (whose sum must not pass 1). */
fr_status fr_cli_screening(const fr_config *cfg, double *clip_norm, double *fault_nan, double *fault_huge);

typedef struct fr_cli_ranks {
    fr_comm *comm;
    int rank, size;
    char **where;        /* rank 0: "host: device" of every rank */
    FILE *report;        /* rank 0: output.comm_report, or NULL */
    const char *report_path;
} fr_cli_ranks;

/* Collective: learn every rank's host and device (this rank's is
 * `device`) and print the table on rank 0 unless quiet. */
fr_status fr_cli_ranks_open(fr_cli_ranks *r, fr_comm *comm, const fr_config *cfg, const char *device, int quiet);
/* Collective: open output.comm_report on rank 0 (when resuming after
 * round `start`: its rows of later rounds dropped, then appended to); a
 * failure is shared by every rank. */
fr_status fr_cli_ranks_open_report(fr_cli_ranks *r, int resume, long long start);
/* Collective: one row per rank for round `round` into the report: its
 * traffic, wall seconds in exchanges and training its clients, clients,
 * peak resident memory. */
fr_status fr_cli_ranks_round(fr_cli_ranks *r, long long round, uint64_t sent, uint64_t received,
                             double seconds_comm, double seconds_local, uint64_t clients);
/* Rank 0 of a multi-rank job: the checkpoint that a launcher's ending of
 * the job (SIGTERM then SIGKILL, sent when another rank dies or mpirun is
 * interrupted) leaves intact, named in the message a signal prints
 * (interrupt.h). */
void fr_cli_ranks_checkpoint(const fr_cli_ranks *r, const char *path, long long round);
/* Before writing the checkpoint of round `round`: the message then names
 * both rounds the file may hold. */
void fr_cli_ranks_checkpoint_writing(const fr_cli_ranks *r, const char *path, long long round);
/* Collective, at the end of a successful run: rank 0's outputs (report,
 * summary) may have failed to write after it said why; every rank takes
 * the same outcome (returns the exit code to use) and no rank is left to
 * end the job. */
int fr_cli_final_verdict(fr_comm *comm, int code);
/* Close the report; returns code, or FR_EXIT_FAILURE when closing failed. */
int fr_cli_ranks_close(fr_cli_ranks *r, int code);

#endif
