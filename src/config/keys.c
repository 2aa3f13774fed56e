/* keys.c — every configuration key: one row each. Later parts of fedrec
 * add their keys here; doc/CONFIG.md is generated from this table
 * (`fedrec config --keys --markdown`) and a test keeps them in step. */
#include <math.h>

#include "fedrec/config.h"

#define NO_RANGE 0, 0, 0, 0
static const fr_config_key schema[] = {
    {"job", "kind", FR_CFG_ENUM, "pfedrec", NO_RANGE, "pfedrec|fedmf|ctr",
     "what `fedrec train` runs: pfedrec = PFedRec (default: on synthetic ratings), fedmf = the FedMF baseline on the same data and keys, ctr = the click-through demo"},

    {"run", "name", FR_CFG_STRING, "quickstart", NO_RANGE, NULL,
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

    {"data", "source", FR_CFG_ENUM, "synthetic", NO_RANGE, "synthetic|movielens|movielens-dat|delimited",
     "synthetic = generated data (click data for ctr, ratings for pfedrec); movielens = u.data (tab); movielens-dat = ratings.dat (::); delimited = data.delimiter and data.columns"},
    {"data", "users", FR_CFG_INT, "1000", 1, 1e8, 0, 0, NULL,
     "synthetic ratings (pfedrec job): users"},
    {"data", "items", FR_CFG_INT, "1000", 10, 1e8, 0, 0, NULL,
     "synthetic ratings (pfedrec job): items"},
    {"data", "per_user", FR_CFG_INT, "30", 3, 1e6, 0, 0, NULL,
     "synthetic ratings (pfedrec job): mean interactions per user (at most items / 2)"},
    {"data", "path", FR_CFG_STRING, "", NO_RANGE, NULL,
     "rating file to read (sources other than synthetic)"},
    {"data", "delimiter", FR_CFG_STRING, ",", NO_RANGE, NULL,
     "delimited: the field separator: one character, or tab, comma, semicolon, space, pipe"},
    {"data", "header", FR_CFG_BOOL, "false", NO_RANGE, NULL,
     "delimited: the first line is a header"},
    {"data", "columns", FR_CFG_STRING, "user,item,rating,time", NO_RANGE, NULL,
     "delimited: what each column holds, in order (user, item, rating, time, or - to ignore; rating and time optional)"},
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
     "ctr job: passes over the training examples"},
    {"train", "rounds", FR_CFG_INT, "100", 1, 1000000, 0, 0, NULL,
     "federated jobs: communication rounds"},
    {"train", "checkpoint_every", FR_CFG_INT, "10", 1, 1000000, 0, 0, NULL,
     "federated jobs: rounds between checkpoints (output.checkpoint); the last round is always saved"},
    {"train", "batch_size", FR_CFG_INT, "256", 2, 1048576, 0, 0, NULL,
     "examples per step (at least 2: batch-norm needs batch statistics)"},
    {"train", "optimizer", FR_CFG_ENUM, "adam", NO_RANGE, "adam|adamw|sgd",
     "adam (L2 decay), adamw (decoupled decay) or sgd"},
    {"train", "lr", FR_CFG_FLOAT, "0.01", 0, 1000, 1, 0, NULL,
     "learning rate"},
    {"train", "weight_decay", FR_CFG_FLOAT, "0", 0, 1000, 0, 0, NULL,
     "weight decay (L2 for adam and sgd, decoupled for adamw)"},

    {"pfedrec", "dim", FR_CFG_INT, "32", 1, 1024, 0, 0, NULL,
     "item embedding and score-function size"},
    {"pfedrec", "lr", FR_CFG_FLOAT, "0.1", 0, 1000, 1, 0, NULL,
     "score-function learning rate (SGD)"},
    {"pfedrec", "lr_eta", FR_CFG_FLOAT, "80", 0, 1e9, 1, 0, NULL,
     "item-embedding learning rate = lr x items x lr_eta (the reference's scaling)"},
    {"pfedrec", "negatives", FR_CFG_INT, "4", 0, 1000, 0, 0, NULL,
     "training negatives per positive, redrawn every round"},
    {"pfedrec", "local_epochs", FR_CFG_INT, "1", 1, 1000, 0, 0, NULL,
     "local passes per round"},
    {"pfedrec", "client_fraction", FR_CFG_FLOAT, "1", 0, 1, 1, 0, NULL,
     "share of clients sampled per round"},
    {"pfedrec", "mode", FR_CFG_ENUM, "paper", NO_RANGE, "paper|strict",
     "paper: as the reference code; strict: training negatives exclude the evaluation negatives"},
    {"pfedrec", "aggregation", FR_CFG_ENUM, "mean", NO_RANGE, "mean|weighted",
     "server rule: plain mean of the client updates (reference) or sample-weighted mean"},
    {"pfedrec", "item_personalisation", FR_CFG_BOOL, "true", NO_RANGE, NULL,
     "evaluate with each client's fine-tuned items (false: the global table, an ablation)"},
    {"pfedrec", "personal_score", FR_CFG_BOOL, "true", NO_RANGE, NULL,
     "keep the score function on the client (false: aggregate it too, an ablation)"},
    {"pfedrec", "eval_negatives", FR_CFG_INT, "99", 1, 1024, 0, 0, NULL,
     "sampled negatives per held-out positive (validation and test each)"},
    {"pfedrec", "top_k", FR_CFG_INT, "10", 1, 1000, 0, 0, NULL,
     "K of HR@K and NDCG@K"},

    {"output", "report", FR_CFG_STRING, "", NO_RANGE, NULL,
     "file for one row per epoch; empty: no report"},
    {"output", "report_format", FR_CFG_ENUM, "csv", NO_RANGE, "csv|jsonl",
     "report format: csv (with a header) or jsonl (one JSON object per line)"},
    {"output", "checkpoint", FR_CFG_STRING, "", NO_RANGE, NULL,
     "federated jobs: checkpoint file, rewritten atomically every train.checkpoint_every rounds; empty: none"},
    {"output", "model", FR_CFG_STRING, "", NO_RANGE, NULL,
     "file to save the trained model to; empty: not saved"},
};

const fr_config_key *fr_config_schema(size_t *count)
{
    *count = sizeof schema / sizeof schema[0];
    return schema;
}
