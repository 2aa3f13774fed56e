/* fedrec/config.h — the typed configuration.
 *
 * Every key is declared once in a schema (section, name, type, default,
 * allowed range or choices, one-line doc). A configuration starts at the
 * defaults; INI files and `section.key=value` overrides then set keys, each
 * value checked against the schema. Errors name the file and line (or the
 * override), the key, the value and what was expected; unknown keys get the
 * nearest valid key suggested. */
#ifndef FEDREC_CONFIG_H
#define FEDREC_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "fedrec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fr_config_type {
    FR_CFG_INT,      /* 64-bit signed integer, range [min, max] */
    FR_CFG_UINT64,   /* 64-bit unsigned integer */
    FR_CFG_FLOAT,    /* finite number, range with open or closed ends */
    FR_CFG_BOOL,     /* true/false, yes/no, on/off, 1/0 */
    FR_CFG_STRING,   /* any text (may be empty) */
    FR_CFG_ENUM,     /* one of the choices "a|b|c" */
    FR_CFG_INT_LIST, /* comma-separated integers, each in [min, max] */
    FR_CFG_DELIMITER /* a field separator: one character, or tab, comma,
                      * semicolon, space, pipe (the characters an INI value
                      * cannot hold or show well) */
} fr_config_type;

/* What a key is to the job's fingerprint (doc/RELIABILITY.md): the
 * effective configuration a checkpoint stores and a resume, or every rank
 * of a multi-rank job, must match. New keys are part of it by default. */
typedef enum fr_config_fingerprint_rule {
    FR_FP_JOB = 0,           /* part of the job: a resume and every rank keep its value */
    FR_FP_RESUME_MAY_CHANGE, /* a resume may change it; the ranks of one job must agree */
    FR_FP_PER_RANK           /* may differ between ranks and on a resume (where a
                              * rank computes, where it finds the data) */
} fr_config_fingerprint_rule;

typedef struct fr_config_key {
    const char *section;
    const char *name;
    fr_config_type type;
    const char *default_value;
    double min, max;     /* ranges of INT, FLOAT, INT_LIST */
    int min_open, max_open; /* FLOAT: the end is excluded */
    const char *choices; /* ENUM: "a|b|c" */
    const char *doc;
    fr_config_fingerprint_rule fingerprint; /* FR_FP_JOB unless the row says */
    const char *jobs;    /* which jobs read it: see "Which jobs read a key" */
} fr_config_key;

/* The schema, in documentation order. */
const fr_config_key *fr_config_schema(size_t *count);

typedef struct fr_config fr_config;

/* A configuration holding every key's default. */
fr_status fr_config_create(fr_config **out);
void fr_config_free(fr_config *cfg);

/* Apply an INI file / INI text. origin names the text in messages. */
fr_status fr_config_load_file(fr_config *cfg, const char *path);
fr_status fr_config_load_string(fr_config *cfg, const char *text,
                                const char *origin);
/* Set one key ("section.key") from text; origin names where it came from
 * ("--set"). */
fr_status fr_config_set(fr_config *cfg, const char *key, const char *value,
                        const char *origin);
/* "section.key=value" form of fr_config_set. */
fr_status fr_config_set_arg(fr_config *cfg, const char *assignment,
                            const char *origin);

/* Defaults, then the file (if path is not NULL), then each override. */
fr_status fr_config_build(const char *path, char *const *overrides,
                          size_t n_overrides, fr_config **out);

/* Typed getters. A key that is not in the schema, or of another type, is
 * FR_ERR_INVALID (a programming error). */
fr_status fr_config_get_int(const fr_config *cfg, const char *key, int64_t *out);
fr_status fr_config_get_uint64(const fr_config *cfg, const char *key, uint64_t *out);
fr_status fr_config_get_float(const fr_config *cfg, const char *key, double *out);
fr_status fr_config_get_bool(const fr_config *cfg, const char *key, int *out);
/* A DELIMITER key's character (',' for comma, '\t' for tab, ...). */
fr_status fr_config_get_delimiter(const fr_config *cfg, const char *key, char *out);
/* STRING, ENUM and DELIMITER keys (their text); the pointer lives as long
 * as the value. */
fr_status fr_config_get_string(const fr_config *cfg, const char *key,
                               const char **out);
/* INT_LIST: *out points at *count values owned by cfg (0 values, *out
 * NULL, for a blank value). */
fr_status fr_config_get_int_list(const fr_config *cfg, const char *key,
                                 const int64_t **out, size_t *count);
/* Where a key's value came from: "default", "FILE:LINE" or the origin. */
const char *fr_config_origin(const fr_config *cfg, const char *key);

/* The effective configuration as an INI text that loads back to it. */
fr_status fr_config_print(const fr_config *cfg, FILE *out);
/* The same into a malloc'ed string. */
fr_status fr_config_print_string(const fr_config *cfg, char **out);
/* The schema as a table: Markdown (doc/CONFIG.md's), or plain text
 * wrapped at 80 columns; each key with the jobs that read it. */
fr_status fr_config_print_keys(FILE *out, int markdown);
/* The same for the keys job (a job.kind) reads, each with the conditions
 * under which it does (NULL: every key); plain text wrapped at width
 * columns (at least 40). */
fr_status fr_config_print_keys_for(FILE *out, const char *job, int markdown, size_t width);

/* ---- the job's fingerprint ------------------------------------------------
 * One "section.key = value" line per key that is not FR_FP_PER_RANK, in
 * schema order, each value in canonical form (numbers as parsed, so 0.10
 * and 0.1 agree; booleans true/false); a malloc'd string. Checkpoints
 * store it; a resume and the ranks of a job compare theirs with it. A job
 * may append lines of its own ("name = value", a name outside the schema)
 * for values it derives, which are always compared. */
fr_status fr_config_fingerprint(const fr_config *cfg, char **out);
/* Compare fingerprint `now` with `was`: returns how many names differ and
 * writes them into buf as "name: WAS_LABEL v1, NOW_LABEL v2; ..." (the
 * first few, then "and N more"). resume: keys a resume may change are not
 * compared (the ranks of a job compare them too). A key in one text only
 * differs unless the other side has that key's default (a key added by a
 * later fedrec). Lines that are not "name = value" are ignored. Out of
 * memory: FR_CONFIG_COMPARE_NOMEM, which is no count (never "they differ"). */
#define FR_CONFIG_COMPARE_NOMEM ((size_t)-1) /* compare: out of memory, nothing compared */
size_t fr_config_fingerprint_compare(const char *was, const char *now, int resume, const char *was_label,
                                     const char *now_label, char *buf, size_t n);
/* The keys of a rule as "a.b, c.d, e.*" (a section whose every key has
 * the rule written section.*), for messages. */
void fr_config_rule_keys(fr_config_fingerprint_rule rule, char *buf, size_t n);

/* ---- which jobs read a key --------------------------------------------------
 * Every key's row says which jobs read it (fr_config_key.jobs), as one of
 *   "all"            every job reads it;
 *   "shared: WHY"    every job accepts it although not every one reads it
 *                    (WHY says why that is on purpose);
 *   "ITEM ITEM ... [when COND,COND...]"
 *                    where ITEM is a job.kind, optionally with conditions,
 *                    KIND[COND,COND...], and COND is KEY=V1|V2... or
 *                    KEY!=V1|V2... on an enum or boolean key
 *                    ("mtrec[mtrec.combiner=pmtrec]",
 *                    "pfedrec mtrec when data.source=synthetic"): the job
 *                    reads the key when its job.kind is one of the items
 *                    and that item's conditions and the when conditions
 *                    all hold.
 * A job refuses a key set explicitly (in a file or an override, whatever
 * the value) that it does not read, so that a configuration says what
 * was run; doc/CONFIG.md, "Keys a job does not read". */

/* Whether the job cfg describes (its job.kind and the keys the conditions
 * name) reads key; 1 for a key without a rule, -1 for an unknown key. */
int fr_config_reads(const fr_config *cfg, const char *key);
/* The keys set explicitly (a value not from the defaults) in cfg that its
 * job does not read: FR_ERR_CONFIG naming each with its value, where it
 * was set and which jobs read it. file_only (may be NULL) is the
 * configuration of the file alone (defaults and the file, no overrides):
 * a key from the file that the file's own job reads, which an override of
 * job.kind or of a key a condition names leaves unread (a file made for
 * PMTRec run with --set mtrec.combiner=ew), is not refused but described
 * in *notes (a malloc'd text of "note: ..." lines; NULL when none). */
fr_status fr_config_check_reads(const fr_config *cfg, const fr_config *file_only, char **notes);
/* Whether the rule of key k names job kind (with or without conditions);
 * "all" and "shared" rules name every kind. */
int fr_config_rule_names(const fr_config_key *k, const char *kind);
/* The rule of k in words for people: "pfedrec, fedmf (data.source =
 * synthetic)", "every job", "every job (shared: WHY)". With kind, only
 * what concerns that kind: "" when it reads the key whatever the other
 * keys say, else the conditions ("mtrec.combiner = pmtrec"). */
void fr_config_rule_text(const fr_config_key *k, const char *kind, char *buf, size_t n);
/* NULL when k's rule is well formed (job kinds from job.kind's choices,
 * condition keys that exist and are enum or boolean, values they allow),
 * else why not, written into buf. A missing rule is an error. */
const char *fr_config_rule_error(const fr_config_key *k, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
