/* table_file.c — fedrec's binary table files (doc/TABLE_FORMAT.md):
 * the streaming writer, save, and the read-only mapping.
 *
 * Layout: a header block (fixed header, per-field vocabularies, task and
 * scenario names), padded to a page multiple, then five sections, each
 * starting on a 4096-byte boundary: categorical ids (int32, rows x n_cat),
 * numbers (float32, rows x n_num), scenarios (int32, rows), labels (uint8,
 * rows x n_tasks), split tags (uint8, rows). The row count is declared when
 * writing starts, so every section's place is known and rows stream into
 * all five at once (pwrite at the section's cursor); each section's CRC-32
 * is computed as it is written, in row order. Version 2 adds a sixth,
 * optional section after them, written at commit: the user and item
 * fields, the field names and every categorical value's original text
 * (table_fields.c); version 1 files are still read. Native byte order,
 * marked in the header so a foreign file is refused. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error_internal.h"
#include "fedrec/table.h"
#include "io/crc32.h"
#include "table/table_fields.h"

#define TABLE_VERSION 2u
#define ALIGN 4096u
#define N_SECTIONS 5
static const char table_magic[8] = {'F', 'R', 'T', 'A', 'B', 'L', 'E', '\n'};

typedef struct file_header {
    char magic[8];
    uint32_t version, byte_order;       /* byte_order: 0x01020304 as written */
    uint64_t rows, n_cat, n_num, n_tasks, n_scenarios, header_bytes, file_bytes;
    uint64_t offset[N_SECTIONS];
    uint32_t section_crc[N_SECTIONS];
    uint32_t header_crc;                /* of the header block, this field zero */
} file_header;

/* Version 2: right after the header, the field section's place. */
typedef struct file_header_v2 {
    uint64_t fields_offset, fields_bytes; /* after the five sections; 0 bytes: none */
    uint32_t fields_crc, reserved;
} file_header_v2;

static uint64_t round_up(uint64_t x)
{
    return (x + ALIGN - 1) / ALIGN * ALIGN;
}

/* Bytes per row of each section. */
static void row_bytes(uint64_t n_cat, uint64_t n_num, uint64_t n_tasks, uint64_t *w)
{
    w[0] = n_cat * 4;
    w[1] = n_num * 4;
    w[2] = 4;
    w[3] = n_tasks;
    w[4] = 1;
}

/* Room for every possible scenario name, so that the layout is fixed
 * before the writer knows how many scenarios there are. */
static uint64_t fixed_bytes(uint32_t version)
{
    return sizeof(file_header) + (version >= 2 ? sizeof(file_header_v2) : 0);
}

static uint64_t meta_bytes(uint32_t version, uint64_t n_cat, uint64_t n_tasks)
{
    return fixed_bytes(version) + n_cat * 8 + (n_tasks + FR_TABLE_MAX_SCENARIOS) * FR_TABLE_NAME_MAX;
}

/* Fill the header's sizes and offsets; the CRCs are filled later. In
 * version 2, file_bytes is where the field section starts (the writer and
 * the reader add its size). */
static void layout(file_header *h, uint32_t version, uint64_t rows, uint64_t n_cat, uint64_t n_num,
                   uint64_t n_tasks, uint64_t n_scenarios)
{
    memset(h, 0, sizeof *h);
    memcpy(h->magic, table_magic, sizeof h->magic);
    h->version = version;
    h->byte_order = 0x01020304u;
    h->rows = rows;
    h->n_cat = n_cat;
    h->n_num = n_num;
    h->n_tasks = n_tasks;
    h->n_scenarios = n_scenarios;
    h->header_bytes = round_up(meta_bytes(version, n_cat, n_tasks));
    uint64_t w[N_SECTIONS], at = h->header_bytes;
    row_bytes(n_cat, n_num, n_tasks, w);
    for (int k = 0; k < N_SECTIONS; k++) {
        h->offset[k] = at;
        at = round_up(at + w[k] * rows);
    }
    h->file_bytes = at;
}

/* ---- writer ------------------------------------------------------------------ */

struct fr_table_writer {
    char *path, *tmp;
    int fd;
    file_header h;
    file_header_v2 h2;
    uint64_t written;    /* rows appended */
};

static fr_status write_at(fr_table_writer *w, const void *data, size_t bytes, uint64_t offset)
{
    const char *p = data;
    while (bytes) {
        ssize_t n = pwrite(w->fd, p, bytes, (off_t)offset);
        if (n <= 0)
            return fr_fail(FR_ERR_IO, "%s: cannot write the table (disk full?)", w->path);
        p += n;
        bytes -= (size_t)n;
        offset += (uint64_t)n;
    }
    return FR_OK;
}

fr_status fr_table_writer_open(const char *path, size_t rows, size_t n_cat, size_t n_num,
                               size_t n_tasks, fr_table_writer **out)
{
    *out = NULL;
    if (n_tasks < 1 || n_tasks > FR_TABLE_MAX_TASKS)
        return fr_fail(FR_ERR_INVALID, "%s: 1 to %d tasks, not %zu", path, FR_TABLE_MAX_TASKS, n_tasks);
    fr_table_writer *w = calloc(1, sizeof *w);
    size_t len = strlen(path);
    if (w) {
        w->path = malloc(len + 1);
        w->tmp = malloc(len + 32);
    }
    if (!w || !w->path || !w->tmp) {
        if (w) {
            free(w->path);
            free(w->tmp);
        }
        free(w);
        return fr_fail_nomem("table writer", len);
    }
    memcpy(w->path, path, len + 1);
    snprintf(w->tmp, len + 32, "%s.tmp.%ld", path, (long)getpid());
    layout(&w->h, TABLE_VERSION, rows, n_cat, n_num, n_tasks, 1);
    w->h2.fields_offset = w->h.file_bytes;
    w->fd = open(w->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        fr_status s = fr_fail(FR_ERR_IO, "%s: cannot create the table file (written first as %s): %s", path, w->tmp,
                              strerror(errno));
        free(w->path);
        free(w->tmp);
        free(w);
        return s;
    }
    *out = w;
    return FR_OK;
}

fr_status fr_table_writer_append(fr_table_writer *w, size_t n, const int32_t *cat, const float *num,
                                 const int32_t *scenario, const uint8_t *labels,
                                 const uint8_t *split)
{
    if (w->written + n > w->h.rows)
        return fr_fail(FR_ERR_INVALID, "%s: more rows than the %llu declared", w->path,
                       (unsigned long long)w->h.rows);
    uint64_t bytes[N_SECTIONS];
    row_bytes(w->h.n_cat, w->h.n_num, w->h.n_tasks, bytes);
    const void *data[N_SECTIONS] = {cat, num, scenario, labels, split};
    for (int k = 0; k < N_SECTIONS; k++) {
        size_t size = (size_t)(bytes[k] * n);
        if (!size)
            continue;
        FR_TRY(write_at(w, data[k], size, w->h.offset[k] + bytes[k] * w->written));
        w->h.section_crc[k] = fr_crc32(w->h.section_crc[k], data[k], size);
    }
    w->written += n;
    return FR_OK;
}

void fr_table_writer_abort(fr_table_writer *w)
{
    if (!w)
        return;
    close(w->fd);
    unlink(w->tmp);
    free(w->path);
    free(w->tmp);
    free(w);
}

/* The header block: header, vocabularies, names; CRC over all of it. */
static fr_status header_block(file_header *h, file_header_v2 *h2, const fr_table *meta, unsigned char **out)
{
    unsigned char *block = calloc(1, h->header_bytes);
    if (!block)
        return fr_fail_nomem("table header", h->header_bytes);
    memcpy(block + sizeof *h, h2, sizeof *h2);
    unsigned char *at = block + fixed_bytes(h->version);
    for (size_t f = 0; f < h->n_cat; f++) {
        uint64_t v = meta->vocab[f];
        memcpy(at, &v, 8);
        at += 8;
    }
    for (size_t k = 0; k < h->n_tasks; k++, at += FR_TABLE_NAME_MAX)
        memcpy(at, meta->task_names[k], FR_TABLE_NAME_MAX);
    for (size_t k = 0; k < h->n_scenarios; k++, at += FR_TABLE_NAME_MAX)
        memcpy(at, meta->scenario_names[k], FR_TABLE_NAME_MAX);
    h->header_crc = 0;
    memcpy(block, h, sizeof *h);
    h->header_crc = fr_crc32(0, block, h->header_bytes);
    memcpy(block, h, sizeof *h);
    *out = block;
    return FR_OK;
}

fr_status fr_table_writer_commit(fr_table_writer *w, const fr_table *meta)
{
    fr_status s = FR_OK;
    if (w->written != w->h.rows)
        s = fr_fail(FR_ERR_INVALID, "%s: %llu rows written, %llu declared", w->path,
                    (unsigned long long)w->written, (unsigned long long)w->h.rows);
    else if (meta->n_cat != w->h.n_cat || meta->n_num != w->h.n_num || meta->n_tasks != w->h.n_tasks)
        s = fr_fail(FR_ERR_INVALID, "%s: the table's shape changed while writing", w->path);
    else if (meta->n_scenarios < 1 || meta->n_scenarios > FR_TABLE_MAX_SCENARIOS)
        s = fr_fail(FR_ERR_INVALID, "%s: %zu scenarios, expected 1 to %d", w->path, meta->n_scenarios,
                    FR_TABLE_MAX_SCENARIOS);
    w->h.n_scenarios = meta->n_scenarios;
    unsigned char *block = NULL, *fields = NULL;
    size_t fields_bytes = 0;
    if (s == FR_OK)
        s = fr_table_fields_encode(meta, &fields, &fields_bytes);
    if (s == FR_OK && fields_bytes)
        s = write_at(w, fields, fields_bytes, w->h2.fields_offset);
    if (s == FR_OK) {
        w->h2.fields_bytes = fields_bytes;
        w->h2.fields_crc = fr_crc32(0, fields, fields_bytes);
        w->h.file_bytes = w->h2.fields_offset + fields_bytes;
    }
    free(fields);
    if (s == FR_OK)
        s = header_block(&w->h, &w->h2, meta, &block);
    if (s == FR_OK)
        s = write_at(w, block, w->h.header_bytes, 0);
    free(block);
    if (s == FR_OK && ftruncate(w->fd, (off_t)w->h.file_bytes) != 0)
        s = fr_fail(FR_ERR_IO, "%s: cannot size the table file", w->tmp);
    if (s == FR_OK && fsync(w->fd) != 0)
        s = fr_fail(FR_ERR_IO, "%s: cannot flush the table file", w->tmp);
    if (s == FR_OK && rename(w->tmp, w->path) != 0)
        s = fr_fail(FR_ERR_IO, "%s: cannot move the finished table into place", w->path);
    if (s != FR_OK) {
        fr_table_writer_abort(w);
        return s;
    }
    close(w->fd);
    free(w->path);
    free(w->tmp);
    free(w);
    return FR_OK;
}

fr_status fr_table_save(const fr_table *t, const char *path)
{
    fr_table_writer *w;
    FR_TRY(fr_table_writer_open(path, t->rows, t->n_cat, t->n_num, t->n_tasks, &w));
    /* Rows in blocks, so a mapped table streams through. */
    for (size_t at = 0; at < t->rows; at += 65536) {
        size_t n = t->rows - at < 65536 ? t->rows - at : 65536;
        fr_status s = fr_table_writer_append(w, n, t->cat + at * t->n_cat, t->num + at * t->n_num,
                                             t->scenario + at, t->labels + at * t->n_tasks,
                                             t->split + at);
        if (s != FR_OK) {
            fr_table_writer_abort(w);
            return s;
        }
    }
    return fr_table_writer_commit(w, t);
}

/* ---- reading ----------------------------------------------------------------- */

static fr_status check_values(const fr_table *t, const file_header *h, const char *path)
{
    uint64_t bytes[N_SECTIONS];
    row_bytes(h->n_cat, h->n_num, h->n_tasks, bytes);
    const void *data[N_SECTIONS] = {t->cat, t->num, t->scenario, t->labels, t->split};
    static const char *names[N_SECTIONS] = {"categorical ids", "numbers", "scenarios", "labels",
                                            "split tags"};
    for (int k = 0; k < N_SECTIONS; k++)
        if (fr_crc32(0, data[k], (size_t)(bytes[k] * h->rows)) != h->section_crc[k])
            return fr_fail(FR_ERR_FORMAT, "%s: the %s section is corrupt (checksum mismatch)", path,
                           names[k]);
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t f = 0; f < t->n_cat; f++) {
            int64_t id = t->cat[r * t->n_cat + f];
            if (id < 0 || id >= (int64_t)t->vocab[f])
                return fr_fail(FR_ERR_FORMAT, "%s: row %zu, field %zu: id %lld outside the field's range", path,
                               r, f + 1, (long long)id);
        }
        for (size_t f = 0; f < t->n_num; f++)
            if (!isfinite(t->num[r * t->n_num + f]))
                return fr_fail(FR_ERR_FORMAT, "%s: row %zu, numerical field %zu: %g, expected a finite number", path,
                               r, f + 1, (double)t->num[r * t->n_num + f]);
        if (t->scenario[r] < 0 || (size_t)t->scenario[r] >= t->n_scenarios || t->split[r] > FR_SPLIT_TEST)
            return fr_fail(FR_ERR_FORMAT, "%s: row %zu: scenario %d or split tag %u out of range", path, r,
                           t->scenario[r], t->split[r]);
        for (size_t k = 0; k < t->n_tasks; k++)
            if (t->labels[r * t->n_tasks + k] > 1)
                return fr_fail(FR_ERR_FORMAT, "%s: row %zu: label %zu is %u, expected 0 or 1", path, r,
                               k + 1, t->labels[r * t->n_tasks + k]);
    }
    return FR_OK;
}

fr_status fr_table_map(fr_table *t, const char *path, int check)
{
    memset(t, 0, sizeof *t);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fr_fail(FR_ERR_IO, "%s: cannot open the table file", path);
    struct stat st;
    file_header h;
    file_header_v2 h2;
    memset(&h2, 0, sizeof h2);
    fr_status s = FR_OK;
    if (fstat(fd, &st) != 0 || pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
        memcmp(h.magic, table_magic, sizeof h.magic) != 0)
        s = fr_fail(FR_ERR_FORMAT, "%s: not a fedrec table file ('fedrec data convert' makes one)", path);
    else if (h.byte_order != 0x01020304u)
        s = fr_fail(FR_ERR_FORMAT, "%s: written on a machine of the other byte order", path);
    else if (h.version < 1 || h.version > TABLE_VERSION)
        s = fr_fail(FR_ERR_FORMAT, "%s: table format version %u, this fedrec reads 1 to %u", path, h.version,
                    TABLE_VERSION);
    else if (h.version >= 2 && pread(fd, &h2, sizeof h2, sizeof h) != (ssize_t)sizeof h2)
        s = fr_fail(FR_ERR_FORMAT, "%s: the file ends inside its header (truncated?)", path);
    else if (h.n_tasks < 1 || h.n_tasks > FR_TABLE_MAX_TASKS || h.n_scenarios < 1 ||
             h.n_scenarios > FR_TABLE_MAX_SCENARIOS || h.n_cat > 100000 || h.n_num > 100000 ||
             h.rows > UINT32_MAX)
        s = fr_fail(FR_ERR_FORMAT, "%s: implausible table shape in the header", path);
    else {
        file_header expect;
        layout(&expect, h.version, h.rows, h.n_cat, h.n_num, h.n_tasks, h.n_scenarios);
        if (h.version >= 2 && (h2.fields_offset != expect.file_bytes || h2.fields_bytes > UINT64_MAX / 2))
            s = fr_fail(FR_ERR_FORMAT, "%s: the header's field section is out of place", path);
        else if (h.version >= 2)
            expect.file_bytes += h2.fields_bytes;
        if (s != FR_OK)
            ;
        else if (memcmp(expect.offset, h.offset, sizeof h.offset) != 0 ||
            expect.header_bytes != h.header_bytes || expect.file_bytes != h.file_bytes)
            s = fr_fail(FR_ERR_FORMAT, "%s: the header's section offsets are inconsistent", path);
        else if ((uint64_t)st.st_size != h.file_bytes)
            s = fr_fail(FR_ERR_FORMAT, "%s: the file has %lld bytes, its header says %llu (truncated?)", path,
                        (long long)st.st_size, (unsigned long long)h.file_bytes);
    }
    if (s != FR_OK) {
        close(fd);
        return s;
    }
    void *map = mmap(NULL, (size_t)h.file_bytes, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return fr_fail(FR_ERR_IO, "%s: cannot map the table file", path);
    /* Header checksum over the block with the CRC field zeroed. */
    unsigned char *block = malloc(h.header_bytes);
    if (!block) {
        munmap(map, (size_t)h.file_bytes);
        return fr_fail_nomem("table header", h.header_bytes);
    }
    memcpy(block, map, h.header_bytes);
    ((file_header *)(void *)block)->header_crc = 0;
    uint32_t crc = fr_crc32(0, block, h.header_bytes);
    free(block);
    if (crc != h.header_crc) {
        munmap(map, (size_t)h.file_bytes);
        return fr_fail(FR_ERR_FORMAT, "%s: the table header is corrupt (checksum mismatch)", path);
    }
    t->rows = h.rows;
    t->n_cat = h.n_cat;
    t->n_num = h.n_num;
    t->n_tasks = h.n_tasks;
    t->n_scenarios = h.n_scenarios;
    t->map = map;
    t->map_bytes = (size_t)h.file_bytes;
    char *base = map;
    t->cat = (int32_t *)(void *)(base + h.offset[0]);
    t->num = (float *)(void *)(base + h.offset[1]);
    t->scenario = (int32_t *)(void *)(base + h.offset[2]);
    t->labels = (uint8_t *)(base + h.offset[3]);
    t->split = (uint8_t *)(base + h.offset[4]);
    t->vocab = calloc(h.n_cat ? h.n_cat : 1, sizeof *t->vocab);
    t->field_offset = calloc(h.n_cat ? h.n_cat : 1, sizeof *t->field_offset);
    if (!t->vocab || !t->field_offset) {
        fr_table_free(t);
        return fr_fail_nomem("table vocabularies", h.n_cat * 16);
    }
    const unsigned char *at = (const unsigned char *)base + fixed_bytes(h.version);
    size_t *vocab = malloc((h.n_cat ? h.n_cat : 1) * sizeof *vocab);
    if (!vocab) {
        fr_table_free(t);
        return fr_fail_nomem("table vocabularies", h.n_cat * 8);
    }
    for (size_t f = 0; f < h.n_cat; f++, at += 8) {
        uint64_t v;
        memcpy(&v, at, 8);
        vocab[f] = (size_t)v;
    }
    fr_table_set_vocab(t, vocab);
    free(vocab);
    for (size_t k = 0; k < h.n_tasks; k++, at += FR_TABLE_NAME_MAX) {
        memcpy(t->task_names[k], at, FR_TABLE_NAME_MAX);
        t->task_names[k][FR_TABLE_NAME_MAX - 1] = '\0';
    }
    for (size_t k = 0; k < h.n_scenarios; k++, at += FR_TABLE_NAME_MAX) {
        memcpy(t->scenario_names[k], at, FR_TABLE_NAME_MAX);
        t->scenario_names[k][FR_TABLE_NAME_MAX - 1] = '\0';
    }
    /* The field section is per distinct value, not per row: always checked. */
    if (h2.fields_bytes) {
        const unsigned char *fields = (const unsigned char *)base + h2.fields_offset;
        if (fr_crc32(0, fields, (size_t)h2.fields_bytes) != h2.fields_crc)
            s = fr_fail(FR_ERR_FORMAT, "%s: the field section (names, user and item fields, values) is corrupt (checksum mismatch)",
                        path);
        else
            s = fr_table_fields_decode(t, fields, (size_t)h2.fields_bytes, path);
        if (s != FR_OK) {
            fr_table_free(t);
            return s;
        }
    }
    if (check) {
        s = check_values(t, &h, path);
        if (s != FR_OK)
            fr_table_free(t);
    }
    return s;
}

void fr_table_release_rows(const fr_table *t, size_t begin, size_t end)
{
    if (!t->map || begin >= end)
        return;
    long page = sysconf(_SC_PAGESIZE);
    size_t ps = page > 0 ? (size_t)page : 4096;
    struct {
        const void *base;
        size_t width;
    } sections[N_SECTIONS] = {{t->cat, t->n_cat * 4}, {t->num, t->n_num * 4}, {t->scenario, 4},
                              {t->labels, t->n_tasks}, {t->split, 1}};
    for (int k = 0; k < N_SECTIONS; k++) {
        uintptr_t lo = (uintptr_t)sections[k].base + begin * sections[k].width;
        uintptr_t hi = (uintptr_t)sections[k].base + end * sections[k].width;
        lo = lo / ps * ps;
        hi = (hi + ps - 1) / ps * ps;
        if (hi > lo)
            madvise((void *)lo, hi - lo, MADV_DONTNEED);
    }
}
