/* model_file.c — the model file format (see fedrec/model_file.h).
 *
 * Layout, all integers little-endian:
 *   "FRMODEL\n"            8-byte magic
 *   u32 version            FR_MODEL_FILE_VERSION (1 is still read)
 *   u32 n_arrays
 *   u64 meta_len, meta_len bytes of metadata text
 *   n_arrays times: u32 name_len, name bytes, u32 role, u32 group,
 *                   u32 dtype (version 2 only; version 1: float),
 *                   u64 rows, u64 cols, the values (float32 and int32:
 *                   4 bytes each, int64: 8, text: cols bytes)
 *   u32 crc32 of every byte before it
 * The loader reads the whole file, checks size, magic, version and CRC
 * before it looks at any array, then checks every array's size (and, into
 * a parameter set, every name and shape) before it imports anything. A
 * model of several parameter sets (fr_model_save_parts) is the same
 * layout: the sets' parameters one after another, each name carrying its
 * set's prefix, then any data arrays (names starting "data/"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fedrec/model_file.h"
#include "io/atomic_file.h"
#include "io/checkpoint_file.h"
#include "io/crc32.h"

static const char model_magic[8] = {'F', 'R', 'M', 'O', 'D', 'E', 'L', '\n'};

#define MAX_NAME 4095u

const char *fr_model_dtype_name(fr_model_dtype t)
{
    switch (t) {
    case FR_MODEL_F32: return "float32";
    case FR_MODEL_I32: return "int32";
    case FR_MODEL_I64: return "int64";
    case FR_MODEL_TEXT: return "text";
    }
    return "unknown";
}

static size_t dtype_size(fr_model_dtype t)
{
    return t == FR_MODEL_I64 ? 8 : t == FR_MODEL_TEXT ? 1 : 4;
}

/* ---- writing ---------------------------------------------------------- */

typedef struct writer {
    FILE *f;
    uint32_t crc;
    int failed;
} writer;

static void put_bytes(writer *w, const void *p, size_t n)
{
    if (w->failed || n == 0)
        return;
    if (fwrite(p, 1, n, w->f) != n)
        w->failed = errno ? errno : EIO;
    w->crc = fr_crc32(w->crc, p, n);
}

static void put_u32(writer *w, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8),
                          (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    put_bytes(w, b, 4);
}

static void put_u64(writer *w, uint64_t v)
{
    put_u32(w, (uint32_t)v);
    put_u32(w, (uint32_t)(v >> 32));
}

/* n values of `size` bytes (4 or 8) from x, little-endian whatever the
 * host's order. */
static void put_words(writer *w, const void *x, size_t n, size_t size)
{
    unsigned char chunk[4096];
    size_t fill = 0;
    const unsigned char *src = x;
    for (size_t i = 0; i < n; i++) {
        uint64_t u = 0;
        if (size == 4) {
            uint32_t v;
            memcpy(&v, src + 4 * i, 4);
            u = v;
        } else {
            memcpy(&u, src + 8 * i, 8);
        }
        for (size_t b = 0; b < size; b++)
            chunk[fill++] = (unsigned char)(u >> (8 * b));
        if (fill + 8 > sizeof chunk) {
            put_bytes(w, chunk, fill);
            fill = 0;
        }
    }
    put_bytes(w, chunk, fill);
}

static void put_header(writer *w, size_t count, const char *meta)
{
    size_t meta_len = meta ? strlen(meta) : 0;
    put_bytes(w, model_magic, sizeof model_magic);
    put_u32(w, FR_MODEL_FILE_VERSION);
    put_u32(w, (uint32_t)count);
    put_u64(w, meta_len);
    put_bytes(w, meta ? meta : "", meta_len);
}

static void put_array_head(writer *w, const char *name, uint32_t role, uint32_t group,
                           fr_model_dtype dtype, size_t rows, size_t cols)
{
    size_t name_len = strlen(name);
    put_u32(w, (uint32_t)name_len);
    put_bytes(w, name, name_len);
    put_u32(w, role);
    put_u32(w, group);
    put_u32(w, (uint32_t)dtype);
    put_u64(w, rows);
    put_u64(w, cols);
}

/* Write the checksum and commit, or abort after a failure. */
static fr_status finish(fr_atomic_file *af, writer *w, fr_status s, const char *path)
{
    uint32_t crc = w->crc;
    put_u32(w, crc);
    if (s != FR_OK) {
        fr_atomic_abort(af);
        return s;
    }
    if (w->failed) {
        fr_atomic_abort(af);
        return fr_fail(FR_ERR_IO, "%s: write failed: %s (the previous file, if any, is unchanged)",
                       path, strerror(w->failed));
    }
    return fr_atomic_commit(af);
}

/* Total parameters of the parts, and the largest one's values. */
static size_t parts_count(const fr_model_part *parts, size_t n_parts, size_t *max_numel)
{
    size_t count = 0;
    *max_numel = 0;
    for (size_t k = 0; k < n_parts; k++) {
        size_t n = fr_param_set_count(parts[k].set);
        for (size_t i = 0; i < n; i++) {
            fr_param *p = fr_param_set_at(parts[k].set, i);
            if (p->rows * p->cols > *max_numel)
                *max_numel = p->rows * p->cols;
        }
        count += n;
    }
    return count;
}

/* The checks fr_model_save_arrays makes of plain arrays (names 1 to
 * MAX_NAME bytes and unique, a known type, data); with data_only, every
 * name starts with FR_MODEL_DATA_PREFIX. */
static fr_status check_arrays(const char *path, const fr_model_array *arrays, size_t n, int data_only)
{
    for (size_t i = 0; i < n; i++) {
        const fr_model_array *a = &arrays[i];
        size_t len = strlen(a->name);
        if (len == 0 || len > MAX_NAME || (unsigned)a->dtype > FR_MODEL_TEXT ||
            (!a->data && a->rows * a->cols != 0))
            return fr_fail(FR_ERR_INVALID, "%s: array %zu ('%s'): a name of 1 to %u bytes, a known type and data are needed",
                           path, i, a->name, MAX_NAME);
        if (data_only && strncmp(a->name, FR_MODEL_DATA_PREFIX, strlen(FR_MODEL_DATA_PREFIX)) != 0)
            return fr_fail(FR_ERR_INVALID, "%s: data array '%s': the name must start with '%s'", path, a->name,
                           FR_MODEL_DATA_PREFIX);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(arrays[j].name, a->name))
                return fr_fail(FR_ERR_INVALID, "%s: array '%s' given twice", path, a->name);
    }
    return FR_OK;
}

static void put_array(writer *w, const fr_model_array *a)
{
    put_array_head(w, a->name, 0, 0, a->dtype, a->rows, a->cols);
    if (a->dtype == FR_MODEL_TEXT)
        put_bytes(w, a->data, a->cols);
    else
        put_words(w, a->data, a->rows * a->cols, dtype_size(a->dtype));
}

fr_status fr_model_save_parts(const char *path, const fr_model_part *parts, size_t n_parts,
                              const char *meta)
{
    return fr_model_save_parts_data(path, parts, n_parts, NULL, 0, meta);
}

fr_status fr_model_save_parts_data(const char *path, const fr_model_part *parts, size_t n_parts,
                                   const fr_model_array *data, size_t n_data, const char *meta)
{
    size_t max_numel;
    size_t count = parts_count(parts, n_parts, &max_numel);
    FR_TRY(check_arrays(path, data, n_data, 1));
    if (count + n_data > UINT32_MAX)
        return fr_fail(FR_ERR_INVALID, "%s: %zu parameters, a model file holds at most %u", path, count,
                       (unsigned)UINT32_MAX);
    float *host = malloc((max_numel ? max_numel : 1) * sizeof *host);
    if (!host)
        return fr_fail_nomem("model save buffer", max_numel * sizeof *host);

    fr_atomic_file af;
    fr_status s = fr_atomic_open(&af, path);
    if (s != FR_OK) {
        free(host);
        return s;
    }
    writer w = {af.f, 0, 0};
    put_header(&w, count + n_data, meta);
    for (size_t k = 0; k < n_parts && s == FR_OK; k++) {
        const char *prefix = parts[k].prefix ? parts[k].prefix : "";
        size_t prefix_len = strlen(prefix);
        for (size_t i = 0; i < fr_param_set_count(parts[k].set) && s == FR_OK; i++) {
            fr_param *p = fr_param_set_at(parts[k].set, i);
            size_t numel = p->rows * p->cols;
            size_t name_len = strlen(p->name);
            put_u32(&w, (uint32_t)(prefix_len + name_len));
            put_bytes(&w, prefix, prefix_len);
            put_bytes(&w, p->name, name_len);
            put_u32(&w, (uint32_t)p->role);
            put_u32(&w, p->group);
            put_u32(&w, (uint32_t)FR_MODEL_F32);
            put_u64(&w, p->rows);
            put_u64(&w, p->cols);
            if (numel)
                s = fr_buffer_download(p->value, 0, host, numel * sizeof *host);
            if (s == FR_OK)
                put_words(&w, host, numel, 4);
        }
    }
    for (size_t i = 0; i < n_data && s == FR_OK; i++)
        put_array(&w, &data[i]);
    free(host);
    return finish(&af, &w, s, path);
}

fr_status fr_model_save(const char *path, const fr_param_set *set,
                        const char *meta)
{
    fr_model_part part = {"", (fr_param_set *)set}; /* read only */
    return fr_model_save_parts(path, &part, 1, meta);
}

fr_status fr_model_save_arrays(const char *path, const fr_model_array *arrays,
                               size_t n, const char *meta)
{
    FR_TRY(check_arrays(path, arrays, n, 0));
    fr_atomic_file af;
    FR_TRY(fr_atomic_open(&af, path));
    writer w = {af.f, 0, 0};
    put_header(&w, n, meta);
    for (size_t i = 0; i < n; i++)
        put_array(&w, &arrays[i]);
    return finish(&af, &w, FR_OK, path);
}

/* ---- reading ---------------------------------------------------------- */

typedef struct reader {
    const unsigned char *p, *end;
    const char *path;
    uint32_t version;
} reader;

static fr_status truncated(const reader *r, const char *what)
{
    return fr_fail(FR_ERR_FORMAT, "%s: model file is truncated or corrupt (%s runs past the end)",
                   r->path, what);
}

static fr_status get_u32(reader *r, const char *what, uint32_t *out)
{
    if (r->end - r->p < 4)
        return truncated(r, what);
    *out = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
           (uint32_t)r->p[3] << 24;
    r->p += 4;
    return FR_OK;
}

static fr_status get_u64(reader *r, const char *what, uint64_t *out)
{
    uint32_t lo = 0, hi = 0;
    FR_TRY(get_u32(r, what, &lo));
    FR_TRY(get_u32(r, what, &hi));
    *out = (uint64_t)hi << 32 | lo;
    return FR_OK;
}

static fr_status get_span(reader *r, const char *what, uint64_t n,
                          const unsigned char **out)
{
    if ((uint64_t)(r->end - r->p) < n)
        return truncated(r, what);
    *out = r->p;
    r->p += n;
    return FR_OK;
}

/* Read the file into memory and check magic, version and checksum. On
 * success r covers the body after the version field (CRC excluded). */
static fr_status open_checked(const char *path, unsigned char **data_out,
                              reader *r)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fr_fail(FR_ERR_IO, "%s: cannot open model file: %s", path,
                       strerror(errno));
    unsigned char *data = NULL;
    size_t size = 0, cap = 0;
    for (;;) {
        if (size == cap) {
            size_t ncap = cap ? cap * 2 : 1 << 16;
            unsigned char *nd = realloc(data, ncap);
            if (!nd) {
                free(data);
                fclose(f);
                return fr_fail_nomem("model file contents", ncap);
            }
            data = nd;
            cap = ncap;
        }
        size_t got = fread(data + size, 1, cap - size, f);
        size += got;
        if (got == 0)
            break;
    }
    int read_err = ferror(f);
    fclose(f);
    if (read_err) {
        free(data);
        return fr_fail(FR_ERR_IO, "%s: read error", path);
    }
    const fr_ckpt_kind *checkpoint = fr_ckpt_kind_of(data, size); /* named when given as a model */
    if (checkpoint) {
        free(data);
        return fr_fail(FR_ERR_FORMAT, "%s: not a fedrec model file (bad magic): it is a checkpoint (output.checkpoint, for train --resume) of %s; a model is what train --save or output.model writes",
                       path, checkpoint->jobs);
    }
    if (size < sizeof model_magic || memcmp(data, model_magic, sizeof model_magic) != 0) {
        free(data);
        return fr_fail(FR_ERR_FORMAT, "%s: not a fedrec model file (bad magic)", path);
    }
    if (size < sizeof model_magic + 8) {
        free(data);
        return fr_fail(FR_ERR_FORMAT, "%s: model file is truncated (%zu bytes)", path, size);
    }
    r->path = path;
    r->p = data + sizeof model_magic;
    r->end = data + size - 4;
    uint32_t version;
    (void)get_u32(r, "version", &version);
    if (version != 1 && version != FR_MODEL_FILE_VERSION) {
        free(data);
        return fr_fail(FR_ERR_FORMAT, "%s: model file version %u, this fedrec reads versions 1 to %u",
                       path, version, FR_MODEL_FILE_VERSION);
    }
    r->version = version;
    const unsigned char *t = data + size - 4;
    uint32_t stored = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 |
                      (uint32_t)t[3] << 24;
    uint32_t actual = fr_crc32(0, data, size - 4);
    if (stored != actual) {
        free(data);
        return fr_fail(FR_ERR_FORMAT, "%s: model file is corrupt or truncated (checksum %08x, expected %08x)",
                       path, actual, stored);
    }
    *data_out = data;
    return FR_OK;
}

static fr_status read_header(reader *r, uint32_t *n_params,
                             const unsigned char **meta, uint64_t *meta_len)
{
    FR_TRY(get_u32(r, "parameter count", n_params));
    FR_TRY(get_u64(r, "metadata length", meta_len));
    return get_span(r, "metadata", *meta_len, meta);
}

fr_status fr_model_read_meta(const char *path, char **meta_out)
{
    unsigned char *data;
    reader r;
    FR_TRY(open_checked(path, &data, &r));
    uint32_t n_params;
    const unsigned char *meta;
    uint64_t meta_len;
    fr_status s = read_header(&r, &n_params, &meta, &meta_len);
    if (s == FR_OK) {
        char *text = malloc(meta_len + 1);
        if (!text) {
            s = fr_fail_nomem("model metadata", meta_len + 1);
        } else {
            memcpy(text, meta, meta_len);
            text[meta_len] = '\0';
            *meta_out = text;
        }
    }
    free(data);
    return s;
}

typedef struct file_param {
    const unsigned char *name;
    uint32_t name_len, role, group, dtype;
    uint64_t rows, cols;
    const unsigned char *values;
} file_param;

static fr_status read_param(reader *r, file_param *fp)
{
    FR_TRY(get_u32(r, "parameter name length", &fp->name_len));
    FR_TRY(get_span(r, "parameter name", fp->name_len, &fp->name));
    FR_TRY(get_u32(r, "parameter role", &fp->role));
    FR_TRY(get_u32(r, "parameter group", &fp->group));
    fp->dtype = FR_MODEL_F32;
    if (r->version >= 2)
        FR_TRY(get_u32(r, "array type", &fp->dtype));
    FR_TRY(get_u64(r, "parameter rows", &fp->rows));
    FR_TRY(get_u64(r, "parameter cols", &fp->cols));
    if (fp->dtype > FR_MODEL_TEXT)
        return fr_fail(FR_ERR_FORMAT, "%s: array '%.*s' has type %u, expected 0 to %u (a file from a later fedrec?)",
                       r->path, (int)fp->name_len, (const char *)fp->name, fp->dtype,
                       (unsigned)FR_MODEL_TEXT);
    size_t size = dtype_size((fr_model_dtype)fp->dtype);
    uint64_t elems = fp->dtype == FR_MODEL_TEXT ? fp->cols : fp->rows * fp->cols;
    if (fp->dtype != FR_MODEL_TEXT && fp->cols && fp->rows > UINT64_MAX / 8 / fp->cols)
        return truncated(r, "parameter values");
    return get_span(r, "parameter values", elems * size, &fp->values);
}

static fr_status check_match(const char *path, size_t i, const file_param *fp,
                             const char *prefix, const fr_param *p)
{
    size_t prefix_len = strlen(prefix), name_len = strlen(p->name);
    if (prefix_len + name_len != fp->name_len || memcmp(prefix, fp->name, prefix_len) != 0 ||
        memcmp(p->name, fp->name + prefix_len, name_len) != 0)
        return fr_fail(FR_ERR_FORMAT, "%s: parameter %zu is '%.*s' in the file but '%s%s' in this model (a file from a different model?)",
                       path, i, (int)fp->name_len, (const char *)fp->name, prefix, p->name);
    if (fp->dtype != FR_MODEL_F32)
        return fr_fail(FR_ERR_FORMAT, "%s: parameter '%s%s' holds %s values in the file, expected float32",
                       path, prefix, p->name, fr_model_dtype_name((fr_model_dtype)fp->dtype));
    if (fp->rows != p->rows || fp->cols != p->cols)
        return fr_fail(FR_ERR_FORMAT, "%s: parameter '%s%s' is %llux%llu in the file but %zux%zu in this model",
                       path, prefix, p->name, (unsigned long long)fp->rows,
                       (unsigned long long)fp->cols, p->rows, p->cols);
    if (fp->role != (uint32_t)p->role)
        return fr_fail(FR_ERR_FORMAT, "%s: parameter '%s%s' has role %u in the file but %s in this model",
                       path, prefix, p->name, fp->role, fr_role_name(p->role));
    return FR_OK;
}

/* n little-endian words of `size` bytes at src into host order at dst. */
static void decode_words(void *dst, const unsigned char *src, size_t n, size_t size)
{
    unsigned char *out = dst;
    for (size_t j = 0; j < n; j++) {
        uint64_t u = 0;
        for (size_t b = 0; b < size; b++)
            u |= (uint64_t)src[size * j + b] << (8 * b);
        if (size == 4) {
            uint32_t v = (uint32_t)u;
            memcpy(out + 4 * j, &v, 4);
        } else {
            memcpy(out + 8 * j, &u, 8);
        }
    }
}

fr_status fr_model_load_parts(const char *path, const fr_model_part *parts, size_t n_parts)
{
    unsigned char *data;
    reader r;
    FR_TRY(open_checked(path, &data, &r));
    uint32_t n_params;
    const unsigned char *meta;
    uint64_t meta_len;
    fr_status s = read_header(&r, &n_params, &meta, &meta_len);
    size_t max_numel;
    size_t count = parts_count(parts, n_parts, &max_numel);
    file_param *fps = NULL;
    if (s == FR_OK && n_params < count)
        s = fr_fail(FR_ERR_FORMAT, "%s: the file has %u parameters, this model %zu (a file from a different model?)",
                    path, n_params, count);
    if (s == FR_OK && !(fps = calloc(count ? count : 1, sizeof *fps)))
        s = fr_fail_nomem("model parameter index", count * sizeof *fps);
    /* First pass: parse and check everything, import nothing. */
    for (size_t k = 0, i = 0; k < n_parts && s == FR_OK; k++)
        for (size_t j = 0; j < fr_param_set_count(parts[k].set) && s == FR_OK; j++, i++) {
            s = read_param(&r, &fps[i]);
            if (s == FR_OK)
                s = check_match(path, i, &fps[i], parts[k].prefix ? parts[k].prefix : "",
                                fr_param_set_at(parts[k].set, j));
        }
    /* After the parameters, data arrays only. */
    for (size_t i = count; i < n_params && s == FR_OK; i++) {
        file_param fp;
        s = read_param(&r, &fp);
        size_t plen = strlen(FR_MODEL_DATA_PREFIX);
        if (s == FR_OK && (fp.name_len < plen || memcmp(fp.name, FR_MODEL_DATA_PREFIX, plen) != 0))
            s = fr_fail(FR_ERR_FORMAT, "%s: parameter %zu is '%.*s' in the file, past this model's %zu (a file from a different model?)",
                        path, i, (int)fp.name_len, (const char *)fp.name, count);
    }
    if (s == FR_OK && r.p != r.end)
        s = fr_fail(FR_ERR_FORMAT, "%s: %td unexpected bytes after the last parameter",
                    path, r.end - r.p);
    float *host = NULL;
    if (s == FR_OK && !(host = malloc((max_numel ? max_numel : 1) * sizeof *host)))
        s = fr_fail_nomem("model load buffer", max_numel * sizeof *host);
    for (size_t k = 0, i = 0; k < n_parts && s == FR_OK; k++)
        for (size_t j = 0; j < fr_param_set_count(parts[k].set) && s == FR_OK; j++, i++) {
            fr_param *p = fr_param_set_at(parts[k].set, j);
            size_t numel = p->rows * p->cols;
            if (!numel)
                continue;
            decode_words(host, fps[i].values, numel, 4);
            s = fr_buffer_upload(p->value, 0, host, numel * sizeof *host);
        }
    free(host);
    free(fps);
    free(data);
    return s;
}

fr_status fr_model_load(const char *path, fr_param_set *set)
{
    fr_model_part part = {"", set};
    return fr_model_load_parts(path, &part, 1);
}

void fr_model_contents_free(fr_model_contents *c)
{
    for (size_t i = 0; c->entries && i < c->n_entries; i++) {
        free(c->entries[i].name);
        free(c->entries[i].values);
    }
    free(c->entries);
    free(c->meta);
    memset(c, 0, sizeof *c);
}

fr_status fr_model_read_all(const char *path, fr_model_contents *out)
{
    memset(out, 0, sizeof *out);
    unsigned char *data;
    reader r;
    FR_TRY(open_checked(path, &data, &r));
    uint32_t n_params;
    const unsigned char *meta;
    uint64_t meta_len;
    fr_status s = read_header(&r, &n_params, &meta, &meta_len);
    if (s == FR_OK && !(out->meta = malloc(meta_len + 1)))
        s = fr_fail_nomem("model metadata", meta_len + 1);
    if (s == FR_OK) {
        memcpy(out->meta, meta, meta_len);
        out->meta[meta_len] = '\0';
    }
    if (s == FR_OK && !(out->entries = calloc(n_params ? n_params : 1, sizeof *out->entries)))
        s = fr_fail_nomem("model parameter index", (size_t)n_params * sizeof *out->entries);
    for (uint32_t i = 0; i < n_params && s == FR_OK; i++) {
        file_param fp;
        s = read_param(&r, &fp);
        if (s != FR_OK)
            break;
        if (fp.dtype != FR_MODEL_F32) {
            s = fr_fail(FR_ERR_FORMAT, "%s: array '%.*s' holds %s values; this reader takes float32 parameters only (fr_model_open reads every type)",
                        path, (int)fp.name_len, (const char *)fp.name,
                        fr_model_dtype_name((fr_model_dtype)fp.dtype));
            break;
        }
        fr_model_entry *e = &out->entries[i];
        out->n_entries = i + 1;
        size_t numel = (size_t)(fp.rows * fp.cols);
        e->name = malloc(fp.name_len + 1);
        e->values = malloc((numel ? numel : 1) * sizeof *e->values);
        if (!e->name || !e->values) {
            s = fr_fail_nomem("model parameter", numel * sizeof *e->values);
            break;
        }
        memcpy(e->name, fp.name, fp.name_len);
        e->name[fp.name_len] = '\0';
        e->role = fp.role;
        e->group = fp.group;
        e->rows = (size_t)fp.rows;
        e->cols = (size_t)fp.cols;
        decode_words(e->values, fp.values, numel, 4);
    }
    if (s == FR_OK && r.p != r.end)
        s = fr_fail(FR_ERR_FORMAT, "%s: %td unexpected bytes after the last parameter",
                    path, r.end - r.p);
    free(data);
    if (s != FR_OK)
        fr_model_contents_free(out);
    return s;
}

/* ---- plain arrays: reading ------------------------------------------- */

struct fr_model_file {
    char *path, *meta;
    size_t count;
    fr_model_array *arrays;  /* names and data owned */
};

void fr_model_close(fr_model_file *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->arrays && i < m->count; i++) {
        free((char *)m->arrays[i].name);
        free((void *)m->arrays[i].data);
    }
    free(m->arrays);
    free(m->path);
    free(m->meta);
    free(m);
}

/* Copy array fp out of the file, checked: a TEXT array holds exactly
 * rows NUL-terminated strings. */
static fr_status decode_array(const char *path, const file_param *fp, fr_model_array *a)
{
    char *name = malloc(fp->name_len + 1);
    if (!name)
        return fr_fail_nomem("array name", fp->name_len + 1);
    memcpy(name, fp->name, fp->name_len);
    name[fp->name_len] = '\0';
    a->name = name;
    a->dtype = (fr_model_dtype)fp->dtype;
    a->rows = (size_t)fp->rows;
    a->cols = (size_t)fp->cols;
    size_t size = dtype_size(a->dtype);
    size_t elems = a->dtype == FR_MODEL_TEXT ? a->cols : a->rows * a->cols;
    if (a->dtype == FR_MODEL_TEXT) {
        size_t strings = 0;
        for (size_t k = 0; k < elems; k++)
            strings += fp->values[k] == '\0';
        if (strings != a->rows || (elems && fp->values[elems - 1] != '\0'))
            return fr_fail(FR_ERR_FORMAT, "%s: text array '%s' holds %zu NUL-terminated strings in %zu bytes, expected %zu",
                           path, name, strings, elems, a->rows);
    }
    void *data = malloc(elems ? elems * size : 1);
    if (!data)
        return fr_fail_nomem("model array", elems * size);
    if (a->dtype == FR_MODEL_TEXT)
        memcpy(data, fp->values, elems);
    else
        decode_words(data, fp->values, elems, size);
    a->data = data;
    return FR_OK;
}

fr_status fr_model_open(const char *path, fr_model_file **out)
{
    *out = NULL;
    unsigned char *data;
    reader r;
    FR_TRY(open_checked(path, &data, &r));
    uint32_t n_arrays = 0;
    const unsigned char *meta;
    uint64_t meta_len;
    fr_status s = read_header(&r, &n_arrays, &meta, &meta_len);
    fr_model_file *m = calloc(1, sizeof *m);
    if (!m) {
        free(data);
        return fr_fail_nomem("model file", sizeof *m);
    }
    /* Each array takes at least its 28-byte head: a count past that is damage. */
    if (s == FR_OK && (uint64_t)n_arrays * 28 > (uint64_t)(r.end - r.p))
        s = truncated(&r, "the array list");
    if (s == FR_OK) {
        m->path = strdup(path);
        m->meta = malloc(meta_len + 1);
        m->arrays = calloc(n_arrays ? n_arrays : 1, sizeof *m->arrays);
        if (!m->path || !m->meta || !m->arrays)
            s = fr_fail_nomem("model file", meta_len + n_arrays * sizeof *m->arrays);
    }
    if (s == FR_OK) {
        memcpy(m->meta, meta, meta_len);
        m->meta[meta_len] = '\0';
    }
    for (uint32_t i = 0; s == FR_OK && i < n_arrays; i++) {
        file_param fp;
        s = read_param(&r, &fp);
        if (s == FR_OK) {
            m->count = i + 1;
            s = decode_array(path, &fp, &m->arrays[i]);
        }
        for (uint32_t j = 0; s == FR_OK && j < i; j++)
            if (!strcmp(m->arrays[j].name, m->arrays[i].name))
                s = fr_fail(FR_ERR_FORMAT, "%s: array '%s' appears twice", path, m->arrays[i].name);
    }
    if (s == FR_OK && r.p != r.end)
        s = fr_fail(FR_ERR_FORMAT, "%s: %td unexpected bytes after the last array", path, r.end - r.p);
    free(data);
    if (s != FR_OK) {
        fr_model_close(m);
        return s;
    }
    *out = m;
    return FR_OK;
}

const char *fr_model_path(const fr_model_file *m)
{
    return m->path;
}

const char *fr_model_meta(const fr_model_file *m)
{
    return m->meta;
}

size_t fr_model_count(const fr_model_file *m)
{
    return m->count;
}

const fr_model_array *fr_model_at(const fr_model_file *m, size_t i)
{
    return i < m->count ? &m->arrays[i] : NULL;
}

const fr_model_array *fr_model_find(const fr_model_file *m, const char *name)
{
    for (size_t i = 0; i < m->count; i++)
        if (!strcmp(m->arrays[i].name, name))
            return &m->arrays[i];
    return NULL;
}

fr_status fr_model_get(const fr_model_file *m, const char *name, fr_model_dtype dtype,
                       size_t rows, size_t cols, const fr_model_array **out)
{
    const fr_model_array *a = fr_model_find(m, name);
    *out = NULL;
    if (!a)
        return fr_fail(FR_ERR_FORMAT, "%s: the model file has no array '%s' (a file of another job kind, or written by another fedrec?)",
                       m->path, name);
    if (a->dtype != dtype)
        return fr_fail(FR_ERR_FORMAT, "%s: array '%s' holds %s values, expected %s", m->path, name,
                       fr_model_dtype_name(a->dtype), fr_model_dtype_name(dtype));
    if ((rows && a->rows != rows) || (cols && a->cols != cols)) {
        char want_rows[32] = "any", want_cols[32] = "any";
        if (rows)
            snprintf(want_rows, sizeof want_rows, "%zu", rows);
        if (cols)
            snprintf(want_cols, sizeof want_cols, "%zu", cols);
        return fr_fail(FR_ERR_FORMAT, "%s: array '%s' is %zu x %zu, expected %s x %s (the file's arrays do not fit together: damaged or hand-made?)",
                       m->path, name, a->rows, a->cols, want_rows, want_cols);
    }
    *out = a;
    return FR_OK;
}

fr_status fr_model_strings(const fr_model_file *m, const fr_model_array *a, const char ***out)
{
    *out = NULL;
    if (a->dtype != FR_MODEL_TEXT)
        return fr_fail(FR_ERR_FORMAT, "%s: array '%s' is not text", m->path, a->name);
    const char **list = malloc((a->rows ? a->rows : 1) * sizeof *list);
    if (!list)
        return fr_fail_nomem("model strings", a->rows * sizeof *list);
    const char *at = a->data;
    for (size_t i = 0; i < a->rows; i++) {
        list[i] = at;
        at += strlen(at) + 1;
    }
    *out = list;
    return FR_OK;
}
