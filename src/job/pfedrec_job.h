/* pfedrec_job.h — the rating jobs' insides (internal): the MF family's
 * model (src/rec/) wired to the federation core (src/fed/), shared by
 * pfedrec.c (the public calls), pfedrec_checkpoint.c (save and resume)
 * and pfedrec_ranks.c (what checkpoints and saved models gather from the
 * ranks). This layer is the only one that sees both. */
#ifndef FR_JOB_PFEDREC_JOB_H
#define FR_JOB_PFEDREC_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "fed/fed_core.h"
#include "fedrec/pfedrec.h"
#include "rec/rating.h"

struct fr_pfedrec {
    fr_pfedrec_options o;
    const fr_loo_split *split;
    fr_rating *m;            /* the model: users' score functions, figures, kept model */
    fr_fed *f;               /* the federation core (NULL: centralised MF) */
    fr_fed_client_ops ops;   /* the model's client interface, as the core uses it */
    /* The job: o.job_fingerprint points at this copy (or is NULL), and
     * the hash of the split's contents; both go into checkpoints. */
    char *job_fingerprint;
    uint64_t data_fingerprint;
};

/* The job's ranks (centralised MF: one). */
static inline fr_comm *fr_pf_comm(const fr_pfedrec *p)
{
    return p->f ? fr_fed_comm(p->f) : NULL;
}
static inline int fr_pf_rank(const fr_pfedrec *p)
{
    return p->f ? fr_fed_rank(p->f) : 0;
}
static inline int fr_pf_ranks(const fr_pfedrec *p)
{
    return p->f ? fr_fed_ranks(p->f) : 1;
}
static inline int fr_pf_owner(const fr_pfedrec *p, size_t u)
{
    return p->f ? fr_fed_owner(p->f, u) : 0;
}

/* Checkpoints over ranks (pfedrec_ranks.c): rank 0 gets every client's
 * score function; rank 0's state goes to every rank. */
fr_status fr_pf_gather_personal(fr_pfedrec *p);
fr_status fr_pf_broadcast_state(fr_pfedrec *p, unsigned *rounds_done, double *extra, size_t n_extra);

#endif
