/* keys.c — every configuration key: one row each. Later parts of fedrec
 * add their keys here; doc/CONFIG.md is generated from this table
 * (`fedrec config --keys --markdown`) and a test keeps them in step. */
#include <math.h>

#include "fedrec/config.h"

#define NO_RANGE 0, 0, 0, 0
static const fr_config_key schema[] = {
    {"run", "name", FR_CFG_STRING, "demo", NO_RANGE, NULL,
     "name of the run, shown in reports"},
    {"run", "seed", FR_CFG_UINT64, "42", NO_RANGE, NULL,
     "seed of every random draw (data, initialisation, dropout, batch order)"},

    {"backend", "kind", FR_CFG_ENUM, "auto", NO_RANGE, "auto|cpu|opencl",
     "compute backend; auto takes the first OpenCL GPU if there is one, else the CPU"},
    {"backend", "cpu_isa", FR_CFG_ENUM, "auto", NO_RANGE, "auto|scalar|avx2|avx512|neon",
     "CPU instruction-set path; auto picks the best this CPU supports"},
    {"backend", "threads", FR_CFG_INT, "0", 0, 1024, 0, 0, NULL,
     "worker threads of the CPU ops; 0 means all online cores"},

    {"opencl", "platform", FR_CFG_STRING, "", NO_RANGE, NULL,
     "OpenCL platform: index or name substring; empty: any ('fedrec devices' lists them)"},
    {"opencl", "device", FR_CFG_STRING, "", NO_RANGE, NULL,
     "OpenCL device: index within the platform or name substring; empty: the first (a GPU for kind = auto)"},
    {"opencl", "min_elements", FR_CFG_INT, "4096", 0, 1e12, 0, 0, NULL,
     "ops on fewer elements run on the CPU: cheaper than a kernel launch"},

    {"data", "source", FR_CFG_ENUM, "synthetic", NO_RANGE, "synthetic",
     "where examples come from: synthetic = generated click data with planted structure"},
    {"data", "rows", FR_CFG_INT, "50000", 10, 1e9, 0, 0, NULL,
     "synthetic: number of examples"},
    {"data", "fields", FR_CFG_INT, "8", 1, 1000, 0, 0, NULL,
     "synthetic: categorical fields per example"},
    {"data", "vocab", FR_CFG_INT, "100", 2, 1e7, 0, 0, NULL,
     "synthetic: distinct values per field"},
    {"data", "numeric", FR_CFG_INT, "4", 0, 1000, 0, 0, NULL,
     "synthetic: numeric features per example"},
    {"data", "test_fraction", FR_CFG_FLOAT, "0.2", 0, 1, 1, 1, NULL,
     "share of the examples held out for testing (the last ones)"},

    {"model", "embed_dim", FR_CFG_INT, "16", 1, 4096, 0, 0, NULL,
     "embedding size of every field"},
    {"model", "hidden", FR_CFG_INT_LIST, "64,32", 1, 65536, 0, 0, NULL,
     "widths of the MLP's hidden layers, input side first"},
    {"model", "batch_norm", FR_CFG_BOOL, "true", NO_RANGE, NULL,
     "batch-norm after each hidden linear layer"},
    {"model", "dropout", FR_CFG_FLOAT, "0", 0, 1, 0, 1, NULL,
     "dropout rate after each hidden layer"},

    {"train", "epochs", FR_CFG_INT, "5", 1, 100000, 0, 0, NULL,
     "passes over the training examples"},
    {"train", "batch_size", FR_CFG_INT, "256", 2, 1048576, 0, 0, NULL,
     "examples per step (at least 2: batch-norm needs batch statistics)"},
    {"train", "optimizer", FR_CFG_ENUM, "adam", NO_RANGE, "adam|adamw|sgd",
     "adam (L2 decay), adamw (decoupled decay) or sgd"},
    {"train", "lr", FR_CFG_FLOAT, "0.01", 0, 1000, 1, 0, NULL,
     "learning rate"},
    {"train", "weight_decay", FR_CFG_FLOAT, "0", 0, 1000, 0, 0, NULL,
     "weight decay (L2 for adam and sgd, decoupled for adamw)"},

    {"output", "report", FR_CFG_STRING, "", NO_RANGE, NULL,
     "file for one row per epoch; empty: no report"},
    {"output", "report_format", FR_CFG_ENUM, "csv", NO_RANGE, "csv|jsonl",
     "report format: csv (with a header) or jsonl (one JSON object per line)"},
    {"output", "model", FR_CFG_STRING, "", NO_RANGE, NULL,
     "file to save the trained model to; empty: not saved"},
};

const fr_config_key *fr_config_schema(size_t *count)
{
    *count = sizeof schema / sizeof schema[0];
    return schema;
}
