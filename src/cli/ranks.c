/* ranks.c — `fedrec train` across ranks (see ranks.h): per-rank backend
 * settings, the device table and the communication report. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/interrupt.h"
#include "cli/job_setup.h"
#include "cli/ranks.h"

fr_status fr_cli_participation(const fr_config *cfg, fr_participation *p)
{
    const char *placement, *clock;
    int64_t min_clients;
    fr_participation_default(p);
    FR_TRY_CLI(fr_config_get_string(cfg, "fed.placement", &placement));
    FR_TRY_CLI(fr_config_get_float(cfg, "fed.deadline", &p->deadline));
    FR_TRY_CLI(fr_config_get_string(cfg, "fed.deadline_clock", &clock));
    FR_TRY_CLI(fr_config_get_float(cfg, "fed.latency", &p->latency_mean));
    FR_TRY_CLI(fr_config_get_int(cfg, "fed.min_clients", &min_clients));
    p->placement = !strcmp(placement, "round-robin") ? FR_PLACE_ROUND_ROBIN : FR_PLACE_CONTIGUOUS;
    p->deadline_simulated = !strcmp(clock, "simulated");
    p->min_clients = (size_t)min_clients;
    return FR_OK;
}

fr_status fr_cli_screening(const fr_config *cfg, double *clip_norm, double *fault_nan, double *fault_huge)
{
    FR_TRY_CLI(fr_config_get_float(cfg, "fed.clip_norm", clip_norm));
    FR_TRY_CLI(fr_config_get_float(cfg, "fault.nan", fault_nan));
    FR_TRY_CLI(fr_config_get_float(cfg, "fault.huge", fault_huge));
    if (*fault_nan + *fault_huge > 1)
        return fr_cli_fail(FR_ERR_CONFIG, "fault.nan + fault.huge = %g: the two probabilities add up to more than 1",
                           *fault_nan + *fault_huge);
    return FR_OK;
}

/* Entry `rank` of a comma-separated list (the last entry for later ranks)
 * into buf; 0 if the list is empty. */
static int entry_for(const char *list, int rank, char *buf, size_t n)
{
    if (!*list)
        return 0;
    const char *at = list;
    for (int r = 0; r < rank; r++) {
        const char *comma = strchr(at, ',');
        if (!comma)
            break;
        at = comma + 1;
    }
    size_t len = strcspn(at, ",");
    while (len && (*at == ' ' || *at == '\t')) {
        at++;
        len--;
    }
    while (len && (at[len - 1] == ' ' || at[len - 1] == '\t'))
        len--;
    if (len >= n)
        len = n - 1;
    memcpy(buf, at, len);
    buf[len] = '\0';
    return len > 0;
}

fr_status fr_cli_rank_overrides(fr_config *cfg, int rank)
{
    static const struct {
        const char *list, *key, *env;
    } map[] = {{"rank.backend", "backend.kind", "FEDREC_BACKEND"},
               {"rank.threads", "backend.threads", "FEDREC_THREADS"},
               {"rank.cpu_isa", "backend.cpu_isa", "FEDREC_CPU_ISA"},
               {"rank.device", "opencl.device", "FEDREC_DEVICE"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        const char *list;
        char value[256], origin[96];
        FR_TRY_CLI(fr_config_get_string(cfg, map[i].list, &list));
        if (entry_for(list, rank, value, sizeof value)) {
            snprintf(origin, sizeof origin, "%s (rank %d)", map[i].list, rank);
            FR_TRY_CLI(fr_config_set(cfg, map[i].key, value, origin));
        }
        const char *env = getenv(map[i].env);
        if (env && *env) {
            snprintf(origin, sizeof origin, "environment %s (rank %d)", map[i].env, rank);
            FR_TRY_CLI(fr_config_set(cfg, map[i].key, env, origin));
        }
    }
    return FR_OK;
}

/* Rank 0's note after a signal's message (interrupt.h): the ranks stop
 * after the round under way, unless the launcher kills them first (Open
 * MPI's mpirun sends SIGTERM to every rank on Ctrl-C, SIGTERM, or when a
 * rank dies, and SIGKILL a second later: doc/DISTRIBUTED.md); then the
 * checkpoint named here is what is left. path: the checkpoint (NULL: none
 * yet); round: the rounds it holds (0: none written yet); writing: the
 * round being written now (0: none). */
static void set_ended_message(const char *path, long long round, long long writing)
{
    static const char killed[] =
        "fedrec: if the job is ended before that (an MPI launcher kills every rank when one of them dies, and mpirun a second after passing on a signal)";
    char text[1024];
    if (!path)
        snprintf(text, sizeof text, "%s, no checkpoint had been written (output.checkpoint)\n", killed);
    else if (writing && round)
        snprintf(text, sizeof text,
                 "%s while the checkpoint of round %lld is being written, %s holds that round or round %lld, intact either way: continue with --resume, on any number of ranks\n",
                 killed, writing, path, round);
    else if (writing)
        snprintf(text, sizeof text,
                 "%s while the first checkpoint (round %lld) is being written to %s, it is intact if it is there: continue with --resume, on any number of ranks\n",
                 killed, writing, path);
    else
        snprintf(text, sizeof text,
                 "%s, the last checkpoint, after round %lld, is intact in %s: continue with --resume, on any number of ranks\n",
                 killed, round, path);
    fr_cli_interrupt_note(text);
}

static long long last_checkpoint;

void fr_cli_ranks_checkpoint(const fr_cli_ranks *r, const char *path, long long round)
{
    if (r->rank == 0 && r->size > 1) {
        last_checkpoint = round;
        set_ended_message(path, round, 0);
    }
}

void fr_cli_ranks_checkpoint_writing(const fr_cli_ranks *r, const char *path, long long round)
{
    if (r->rank == 0 && r->size > 1)
        set_ended_message(path, last_checkpoint, round);
}

fr_status fr_cli_ranks_open(fr_cli_ranks *r, fr_comm *comm, const fr_config *cfg, const char *device, int quiet)
{
    memset(r, 0, sizeof *r);
    r->comm = comm;
    r->rank = fr_comm_rank(comm);
    r->size = fr_comm_size(comm);
    char mine[512];
    snprintf(mine, sizeof mine, "%s: %s", fr_comm_host(comm), device);
    void *all = NULL;
    size_t *counts = calloc((size_t)r->size, sizeof *counts);
    if (!counts && r->size == 1)
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory allocating %zu bytes for the rank table", sizeof *counts);
    if (!counts) { /* the other ranks are entering the gather: end the job */
        fprintf(stderr, "fedrec (rank %d of %d): out of memory allocating %zu bytes for the rank table\n", r->rank,
                r->size, (size_t)r->size * sizeof *counts);
        fr_comm_abort(comm, FR_EXIT_FAILURE);
    }
    fr_status s = fr_comm_gather(comm, 0, mine, strlen(mine) + 1, &all, counts);
    if (s == FR_OK && r->rank == 0) {
        r->where = calloc((size_t)r->size, sizeof *r->where);
        const char *at = all;
        for (int k = 0; r->where && k < r->size; k++) {
            r->where[k] = strdup(at);
            at += counts[k];
        }
        if (!quiet && r->size > 1) {
            printf("%s\n", fr_comm_describe(comm));
            for (int k = 0; r->where && k < r->size; k++)
                printf("  rank %d on %s\n", k, r->where[k] ? r->where[k] : "?");
        }
    }
    free(all);
    free(counts);
    if (r->rank == 0 && r->size > 1) {
        last_checkpoint = 0;
        set_ended_message(NULL, 0, 0);
    }
    fr_config_get_string(cfg, "output.comm_report", &r->report_path);
    return s;
}

fr_status fr_cli_ranks_open_report(fr_cli_ranks *r, int resume, long long start)
{
    fr_status opened = FR_OK;
    if (r->rank == 0 && *r->report_path) {
        if (resume)
            opened = fr_cli_trim_report(r->report_path, start);
        if (opened == FR_OK && !(r->report = fopen(r->report_path, resume ? "a" : "w")))
            opened = fr_cli_fail(FR_ERR_IO, "%s: cannot write the communication report: %s", r->report_path,
                                 strerror(errno));
        else if (opened == FR_OK && (!resume || ftell(r->report) == 0))
            fprintf(r->report, "round,rank,host_device,bytes_sent,bytes_received,seconds_comm,seconds_training,clients_trained,peak_rss_mib\n");
    }
    return fr_cli_agree(r->comm, opened);
}

typedef struct rank_row {
    uint64_t sent, received, clients;
    double seconds_comm, seconds_local, peak_rss_mib;
} rank_row;

/* This process's peak resident memory so far, in MiB. */
static double peak_rss_mib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

fr_status fr_cli_ranks_round(fr_cli_ranks *r, long long round, uint64_t sent, uint64_t received,
                             double seconds_comm, double seconds_local, uint64_t clients)
{
    if (!*r->report_path)
        return FR_OK;
    rank_row mine = {sent, received, clients, seconds_comm, seconds_local, peak_rss_mib()};
    void *all = NULL;
    size_t *counts = calloc((size_t)r->size, sizeof *counts);
    if (!counts) { /* the other ranks are entering the gather: end the job */
        fprintf(stderr, "fedrec (rank %d of %d): out of memory for the communication report\n", r->rank, r->size);
        fr_comm_abort(r->comm, FR_EXIT_FAILURE);
    }
    fr_status s = fr_comm_gather(r->comm, 0, &mine, sizeof mine, &all, counts);
    if (s == FR_OK && r->report) {
        const rank_row *row = all;
        for (int k = 0; k < r->size; k++)
            fprintf(r->report, "%lld,%d,\"%s\",%llu,%llu,%.4f,%.4f,%llu,%.1f\n", round, k,
                    r->where && r->where[k] ? r->where[k] : "", (unsigned long long)row[k].sent,
                    (unsigned long long)row[k].received, row[k].seconds_comm, row[k].seconds_local,
                    (unsigned long long)row[k].clients, row[k].peak_rss_mib);
        fflush(r->report);
    }
    free(all);
    free(counts);
    return s;
}

int fr_cli_final_verdict(fr_comm *comm, int code)
{
    if (fr_comm_size(comm) <= 1)
        return code;
    /* Rank 0 has said what failed; the others only need the outcome. */
    fr_status s = fr_comm_agree_message(comm, code == FR_EXIT_OK ? FR_OK : FR_ERR_IO, "writing the outputs failed");
    return s == FR_OK ? FR_EXIT_OK : code != FR_EXIT_OK ? code : FR_EXIT_FAILURE;
}

int fr_cli_ranks_close(fr_cli_ranks *r, int code)
{
    for (int k = 0; r->where && k < r->size; k++)
        free(r->where[k]);
    free(r->where);
    r->where = NULL;
    code = fr_cli_close_report(r->report, r->report_path, code == FR_EXIT_OK, code);
    r->report = NULL;
    return code;
}
