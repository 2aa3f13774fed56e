/* checkpoint_file.h — what every job's checkpoint file shares (internal).
 *
 * A checkpoint is: the job's header, which starts with an 8-byte magic
 * naming the job and a u32 format version and holds the byte count of
 * the payload; the payload (the job fingerprint's text, then the job's
 * arrays); then the CRC-32 of every byte before it. It is written
 * atomically, the file it replaces kept beside it as PATH.prev
 * (io/atomic_file.h). Read back, the magic, the version, the length and
 * the checksum are checked before anything in the file is believed; a
 * file of another job's kind is named as such; a refusal names PATH.prev
 * when one exists. Integers are in the machine's byte order: a checkpoint
 * resumes a run on the machine family that wrote it (a foreign order
 * reads as a foreign version). */
#ifndef FR_CHECKPOINT_FILE_H
#define FR_CHECKPOINT_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fedrec/error.h"
#include "io/atomic_file.h"

/* The kinds of checkpoint, one per job family that writes them. */
typedef struct fr_ckpt_kind {
    char magic[8];
    const char *name;       /* "PFedRec", in "not a fedrec PFedRec checkpoint" */
    const char *jobs;       /* "the rating jobs (...)", in "a checkpoint of ..." */
    uint32_t oldest, newest; /* the format versions this fedrec reads */
} fr_ckpt_kind;

extern const fr_ckpt_kind fr_ckpt_pfedrec; /* the rating engine's */
extern const fr_ckpt_kind fr_ckpt_msmt;    /* the centralised multi-scenario job's */
extern const fr_ckpt_kind fr_ckpt_mtrec;   /* the central multi-task job's (mtrec) */
extern const fr_ckpt_kind fr_ckpt_fedmsmt; /* the federated multi-scenario multi-task job's */
/* The kind of checkpoint the n bytes at start begin (NULL: none). */
const fr_ckpt_kind *fr_ckpt_kind_of(const void *start, size_t n);

/* ---- writing ---------------------------------------------------------- */

typedef struct fr_ckpt_writer {
    fr_atomic_file af;
    uint32_t crc;
    int failed; /* a write failed: the commit refuses */
} fr_ckpt_writer;

fr_status fr_ckpt_write_open(fr_ckpt_writer *w, const char *path);
/* bytes more of the file (the CRC follows them); a failed write is kept
 * for the commit to report. */
void fr_ckpt_write(fr_ckpt_writer *w, const void *data, size_t bytes);
/* The CRC, then the rename over the path, the file it replaces kept as
 * PATH.prev. After a failed write: the temporary removed, the previous
 * file unchanged, FR_ERR_IO. Either way the writer is closed. */
fr_status fr_ckpt_write_commit(fr_ckpt_writer *w);
void fr_ckpt_write_abort(fr_ckpt_writer *w);

/* ---- reading ---------------------------------------------------------- */

/* Read kind's header (header_bytes, starting with the magic and the u32
 * version; the u64 payload byte count at payload_offset) from the start
 * of f, then check the whole file: its length is the header's, the
 * payload's and 4, and its CRC-32 is right. Leaves f just after the
 * header. Messages name path and what was expected: another job's
 * checkpoint, not a checkpoint, a version this fedrec does not read,
 * truncated, bytes after the end, corrupt. */
fr_status fr_ckpt_read_header(FILE *f, const char *path, const fr_ckpt_kind *kind, void *header, size_t header_bytes,
                              size_t payload_offset);
/* The job fingerprint's text (config_bytes of the payload_bytes, which
 * come first after the header) as a malloc'd string in *out. */
fr_status fr_ckpt_read_config(FILE *f, const char *path, uint64_t config_bytes, uint64_t payload_bytes, char **out);
/* The fingerprint stored in the checkpoint against this run's (now;
 * NULL: the caller has none, nothing is compared): FR_ERR_CONFIG naming
 * every key that differs, with both values, and what a resume may
 * change. */
fr_status fr_ckpt_check_config(const char *path, const char *stored, const char *now);
/* The two above in one: the stored fingerprint read and compared with now. */
fr_status fr_ckpt_read_check_config(FILE *f, const char *path, uint64_t config_bytes, uint64_t payload_bytes,
                                    const char *now);
/* s, a refusal of the checkpoint at path: when PATH.prev exists and s
 * says the file is damaged (FR_ERR_FORMAT, FR_ERR_IO), the message gains
 * how to resume from PATH.prev. Returns s. */
fr_status fr_ckpt_name_prev(fr_status s, const char *path);

#endif
