/* fedrec/fedrec.h — the whole public API in one include. */
#ifndef FEDREC_FEDREC_H
#define FEDREC_FEDREC_H

#include "fedrec/error.h"
#include "fedrec/version.h"
#include "fedrec/rng.h"
#include "fedrec/progress.h"
#include "fedrec/backend.h"
#include "fedrec/params.h"
#include "fedrec/config.h"
#include "fedrec/ctr_job.h"
#include "fedrec/nn.h"
#include "fedrec/loss.h"
#include "fedrec/optim.h"
#include "fedrec/metrics.h"
#include "fedrec/model_file.h"
#include "fedrec/synthetic_ctr.h"
#include "fedrec/ratings.h"
#include "fedrec/comm.h"
#include "fedrec/participation.h"
#include "fedrec/pfedrec.h"
#include "fedrec/table.h"
#include "fedrec/table_read.h"
#include "fedrec/table_sides.h"
#include "fedrec/msmt.h"
#include "fedrec/fedmsmt.h"
#include "fedrec/combine.h"
#include "fedrec/mtrec.h"

#endif
