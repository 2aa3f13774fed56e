/* fuzz_util.c — the fuzz targets' temporary files, input cutting and the
 * check that a refusal names its file (see fuzz_util.h). */
#include "config.h"
#include "fuzz_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp_dir[256];
static char slot_paths[8][512];

static void remove_dir(void)
{
    DIR *d = opendir(tmp_dir);
    if (d) {
        struct dirent *e;
        char p[768];
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(tmp_dir);
}

const char *fr_fuzz_dir(void)
{
    if (!tmp_dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(tmp_dir, sizeof tmp_dir, "%s/fedrec-fuzz-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmp_dir))
            fr_fuzz_fail("cannot make a temporary folder", tmp_dir);
        atexit(remove_dir);
    }
    return tmp_dir;
}

const char *fr_fuzz_file(unsigned slot, const char *name, const uint8_t *data, size_t size)
{
    if (slot >= 8)
        fr_fuzz_fail("file slot out of range", name);
    snprintf(slot_paths[slot], sizeof slot_paths[slot], "%s/%s", fr_fuzz_dir(), name);
    FILE *f = fopen(slot_paths[slot], "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        fr_fuzz_fail("cannot write the input file", slot_paths[slot]);
    return slot_paths[slot];
}

size_t fr_fuzz_split(const uint8_t *data, size_t size, const uint8_t **part, size_t *len,
                     size_t max_parts)
{
    const size_t sep_len = strlen(FR_FUZZ_SEPARATOR);
    size_t n = 0, start = 0;
    for (size_t i = 0; n + 1 < max_parts && i + sep_len <= size; i++) {
        if (memcmp(data + i, FR_FUZZ_SEPARATOR, sep_len) != 0)
            continue;
        part[n] = data + start;
        len[n++] = i - start;
        start = i + sep_len;
        i = start - 1;
    }
    part[n] = data + start;
    len[n++] = size - start;
    return n;
}

void fr_fuzz_files(const uint8_t *data, size_t size, const char *const *names, size_t n,
                   const char **paths)
{
    const uint8_t *part[8];
    size_t len[8];
    if (n > 8)
        fr_fuzz_fail("too many files", names[0]);
    size_t got = fr_fuzz_split(data, size, part, len, n);
    for (size_t k = 0; k < n; k++)
        paths[k] = fr_fuzz_file((unsigned)k, names[k], k < got ? part[k] : (const uint8_t *)"", k < got ? len[k] : 0);
}

int fr_fuzz_names_one(const char *const *paths, size_t n)
{
    const char *msg = fr_last_error();
    for (size_t k = 0; k < n; k++)
        if (strstr(msg, paths[k]))
            return 1;
    return 0;
}

uint8_t *fr_fuzz_copy(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        fr_fuzz_fail("out of memory", "input copy");
    if (size)
        memcpy(copy, data, size);
    return copy;
}

void fr_fuzz_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz target: %s: %s\n", what, detail ? detail : "");
    abort();
}

void fr_fuzz_expect_named(fr_status s, const char *path)
{
    if (s == FR_OK)
        fr_fuzz_fail("expected a refusal", path);
    const char *msg = fr_last_error();
    if (!msg || !*msg)
        fr_fuzz_fail("a refusal without a message", fr_status_name(s));
    if (!strstr(msg, path))
        fr_fuzz_fail("the message does not name the file", msg);
}

const char *fr_fuzz_seed_dir(void)
{
    const char *d = getenv("FR_FUZZ_SEED_DIR");
    return d && *d ? d : NULL;
}

void fr_fuzz_write_seed(const char *name, const void *data, size_t size)
{
    const char *dir = fr_fuzz_seed_dir();
    if (!dir)
        return;
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        fr_fuzz_fail("cannot write a seed", p);
}
