/* rating_cohort.h — the MF family's clients trained as cohorts on an
 * fr_backend (PFedRec and FedMF: rating_cohort.c; FedNCF:
 * rating_cohort_ncf.c): the train_cohort call of the client interface
 * (fedrec/fed_client.h). */
#ifndef FR_REC_RATING_COHORT_H
#define FR_REC_RATING_COHORT_H

#include <stddef.h>

#include "fedrec/backend.h"
#include "fedrec/fed_client.h"

struct fr_rating;
typedef struct fr_rating_cohort fr_rating_cohort;

/* Cohort state of model p on backend be (borrowed): device buffers kept
 * across rounds. The federated algorithms (centralised MF, and FedNCF
 * without hidden layers: FR_ERR_UNSUPPORTED). */
fr_status fr_rating_cohort_create(const struct fr_rating *p, fr_backend *be, fr_rating_cohort **out);
void fr_rating_cohort_free(fr_rating_cohort *c);
/* Train clients[0..n) for p->round from the server's table (p->items),
 * evaluate them unless the round skips evaluation, keep them if the model
 * keeps, and fill ups[i] as the one-by-one train would. */
fr_status fr_rating_cohort_train(struct fr_rating *p, fr_rating_cohort *c, const size_t *clients, size_t n,
                                 fr_fed_upload *const *ups);

#endif
