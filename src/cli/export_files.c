/* export_files.c — `fedrec export`'s files (see export_files.h). The .npy
 * layout is NumPy's format 1.0: the magic "\x93NUMPY", the version bytes
 * 1, 0, a little-endian u16 header length, then a Python dict literal
 * giving the element type, the order and the shape, padded with spaces and
 * a newline so the data starts on a 64-byte boundary; then the values,
 * little-endian, row-major. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/export_files.h"
#include "cli/summary.h"
#include "io/atomic_file.h"

void fr_csv_field(FILE *f, const char *s)
{
    size_t n = strlen(s);
    int quote = strpbrk(s, ",\"\n\r") != NULL || (n && (s[0] == ' ' || s[n - 1] == ' '));
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

fr_status fr_export_begin(fr_export *e, const char *dir, int npy, int csv)
{
    memset(e, 0, sizeof *e);
    e->dir = dir;
    e->npy = npy;
    e->csv = csv;
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            return fr_cli_fail(FR_ERR_IO, "--out %s: not a folder", dir);
    } else if (mkdir(dir, 0777) != 0) {
        return fr_cli_fail(FR_ERR_IO, "--out %s: cannot create the folder: %s", dir, strerror(errno));
    }
    e->manifest = open_memstream(&e->manifest_text, &e->manifest_len);
    if (!e->manifest)
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory for the manifest");
    return FR_OK;
}

void fr_export_abort(fr_export *e)
{
    if (e->manifest)
        fclose(e->manifest);
    free(e->manifest_text);
    e->manifest = NULL;
    e->manifest_text = NULL;
}

/* dir/file, opened for an atomic write. */
static fr_status open_file(fr_export *e, const char *file, fr_atomic_file *af, char **path)
{
    size_t n = strlen(e->dir) + strlen(file) + 2;
    *path = malloc(n);
    if (!*path)
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory for a file name");
    snprintf(*path, n, "%s/%s", e->dir, file);
    fr_status s = fr_atomic_open(af, *path);
    if (s != FR_OK) {
        char why[600];
        snprintf(why, sizeof why, "%s", fr_last_error());
        fr_cli_fail(s, "%s", why);
        free(*path);
        *path = NULL;
    }
    return s;
}

static fr_status close_file(fr_atomic_file *af, char *path, int ok)
{
    fr_status s = FR_OK;
    if (!ok || ferror(af->f)) {
        fr_atomic_abort(af);
        s = fr_cli_fail(FR_ERR_IO, "%s: write failed: %s", path, strerror(errno ? errno : EIO));
    } else if ((s = fr_atomic_commit(af)) != FR_OK) {
        char why[600];
        snprintf(why, sizeof why, "%s", fr_last_error());
        fr_cli_fail(s, "%s", why);
    }
    free(path);
    return s;
}

static void manifest_entry(fr_export *e, const char *file, const char *what, const char *format,
                           const char *dtype, size_t rows, size_t cols, const char *ids_file)
{
    FILE *m = e->manifest;
    fputs(e->n_files++ ? ",\n    {" : "\n    {", m);
    fputs("\"file\": ", m);
    fr_cli_json_string(m, file);
    fputs(", \"format\": ", m);
    fr_cli_json_string(m, format);
    if (dtype) {
        fputs(", \"dtype\": ", m);
        fr_cli_json_string(m, dtype);
        fprintf(m, ", \"shape\": [%zu, %zu]", rows, cols);
    } else {
        fprintf(m, ", \"rows\": %zu", rows);
    }
    if (ids_file) {
        fputs(", \"row_ids\": ", m);
        fr_cli_json_string(m, ids_file);
    }
    fputs(", \"what\": ", m);
    fr_cli_json_string(m, what);
    fputc('}', m);
}

static const char *npy_descr(fr_model_dtype t)
{
    return t == FR_MODEL_I32 ? "<i4" : t == FR_MODEL_I64 ? "<i8" : "<f4";
}

static size_t elem_size(fr_model_dtype t)
{
    return t == FR_MODEL_I64 ? 8 : 4;
}

static void write_le(FILE *f, const void *data, size_t n, size_t size)
{
    const unsigned char *src = data;
    unsigned char buf[8];
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
            buf[b] = (unsigned char)(u >> (8 * b));
        fwrite(buf, 1, size, f);
    }
}

static void write_npy(FILE *f, fr_model_dtype dtype, size_t rows, size_t cols, const void *data)
{
    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }",
                       npy_descr(dtype), rows, cols);
    size_t header = 10 + (size_t)len + 1; /* magic, version, length; dict; newline */
    size_t pad = (64 - header % 64) % 64;
    size_t hlen = (size_t)len + pad + 1;
    unsigned char lead[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)hlen,
                              (unsigned char)(hlen >> 8)};
    fwrite(lead, 1, sizeof lead, f);
    fwrite(dict, 1, (size_t)len, f);
    for (size_t k = 0; k < pad; k++)
        fputc(' ', f);
    fputc('\n', f);
    write_le(f, data, rows * cols, elem_size(dtype));
}

static void write_csv(FILE *f, fr_model_dtype dtype, size_t rows, size_t cols, const void *data,
                      const char *const *row_ids, const char *id_header, const char *col_header)
{
    if (row_ids) {
        fr_csv_field(f, id_header ? id_header : "id");
        if (cols)
            fputc(',', f);
    }
    for (size_t c = 0; c < cols; c++)
        fprintf(f, "%s%s%zu", c ? "," : "", col_header ? col_header : "c", c);
    fputc('\n', f);
    for (size_t r = 0; r < rows; r++) {
        if (row_ids) {
            fr_csv_field(f, row_ids[r]);
            if (cols)
                fputc(',', f);
        }
        for (size_t c = 0; c < cols; c++) {
            size_t i = r * cols + c;
            if (c)
                fputc(',', f);
            if (dtype == FR_MODEL_F32)
                fprintf(f, "%.9g", (double)((const float *)data)[i]);
            else if (dtype == FR_MODEL_I32)
                fprintf(f, "%d", (int)((const int32_t *)data)[i]);
            else
                fprintf(f, "%lld", (long long)((const int64_t *)data)[i]);
        }
        fputc('\n', f);
    }
}

fr_status fr_export_array(fr_export *e, const char *stem, const char *what, fr_model_dtype dtype,
                          size_t rows, size_t cols, const void *data, const char *const *row_ids,
                          const char *id_header, const char *ids_file, const char *col_header)
{
    char file[512];
    if (e->npy) {
        fr_atomic_file af;
        char *path;
        snprintf(file, sizeof file, "%s.npy", stem);
        FR_TRY_CLI(open_file(e, file, &af, &path));
        write_npy(af.f, dtype, rows, cols, data);
        FR_TRY_CLI(close_file(&af, path, 1));
        manifest_entry(e, file, what, "npy", npy_descr(dtype), rows, cols, ids_file);
    }
    if (e->csv) {
        fr_atomic_file af;
        char *path;
        snprintf(file, sizeof file, "%s.csv", stem);
        FR_TRY_CLI(open_file(e, file, &af, &path));
        write_csv(af.f, dtype, rows, cols, data, row_ids, id_header, col_header);
        FR_TRY_CLI(close_file(&af, path, 1));
        char with_ids[600];
        snprintf(with_ids, sizeof with_ids, "%s%s", what,
                 row_ids ? " (first column: the row's original id)" : "");
        manifest_entry(e, file, with_ids, "csv", npy_descr(dtype), rows, cols, ids_file);
    }
    return FR_OK;
}

fr_status fr_export_ids(fr_export *e, const char *file, const char *what, const char *const *ids, size_t n)
{
    fr_atomic_file af;
    char *path;
    FR_TRY_CLI(open_file(e, file, &af, &path));
    for (size_t i = 0; i < n; i++)
        fprintf(af.f, "%s\n", ids[i]);
    FR_TRY_CLI(close_file(&af, path, 1));
    manifest_entry(e, file, what, "text, one id per line", NULL, n, 0, NULL);
    return FR_OK;
}

fr_status fr_export_table(fr_export *e, const char *file, const char *what,
                          fr_status (*fill)(FILE *f, void *arg), void *arg)
{
    fr_atomic_file af;
    char *path;
    FR_TRY_CLI(open_file(e, file, &af, &path));
    fr_status s = fill(af.f, arg);
    if (s != FR_OK) {
        fr_atomic_abort(&af);
        free(path);
        return s;
    }
    FR_TRY_CLI(close_file(&af, path, 1));
    FILE *m = e->manifest;
    fputs(e->n_files++ ? ",\n    {" : "\n    {", m);
    fputs("\"file\": ", m);
    fr_cli_json_string(m, file);
    fputs(", \"format\": \"csv\", \"what\": ", m);
    fr_cli_json_string(m, what);
    fputc('}', m);
    return FR_OK;
}

fr_status fr_export_finish(fr_export *e, const char *model_path, const char *kind, const char *facts)
{
    fclose(e->manifest);
    e->manifest = NULL;
    fr_atomic_file af;
    char *path;
    fr_status s = open_file(e, "manifest.json", &af, &path);
    if (s != FR_OK) {
        fr_export_abort(e);
        return s;
    }
    fputs("{\n  \"model\": ", af.f);
    fr_cli_json_string(af.f, model_path);
    fputs(",\n  \"kind\": ", af.f);
    fr_cli_json_string(af.f, kind);
    if (facts && *facts)
        fprintf(af.f, ",\n  %s", facts);
    fprintf(af.f, ",\n  \"files\": [%.*s\n  ]\n}\n", (int)e->manifest_len, e->manifest_text);
    fr_export_abort(e);
    return close_file(&af, path, 1);
}
