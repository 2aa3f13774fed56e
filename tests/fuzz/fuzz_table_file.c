/* fuzz_table_file.c — libFuzzer target for the binary feature-table file
 * (fr_table_map, doc/TABLE_FORMAT.md). At start-up it saves a small
 * synthetic table (written as a seed when FR_FUZZ_SEED_DIR is set). The
 * first input byte says whether to check every value (as data info
 * --check and training do) and whether the harness recomputes the header's
 * and the sections' CRC-32 before mapping, so mutations reach the checks
 * behind the checksums. A mapped table must be consistent when its values
 * were checked; a refused file must be named in the message. */
#include "config.h"
#include "fuzz_util.h"
#include "table_check.h"
#include "io/crc32.h"
#include "fedrec/table.h"
#include "fedrec/table_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fr_msmt_synth o;
    fr_msmt_synth_default(&o);
    o.rows = 6;
    o.scenarios = 2;
    o.vocab = 4;
    o.seed = 3;
    fr_table t;
    const char *path = fr_fuzz_file(0, "seed.frt", (const uint8_t *)"", 0);
    if (fr_msmt_synth_make(&o, &t) != FR_OK || fr_table_save(&t, path) != FR_OK)
        fr_fuzz_fail("cannot build the seed table", fr_last_error());
    fr_table_free(&t);
    if (!fr_fuzz_seed_dir())
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        fr_fuzz_fail("cannot read back", path);
    static uint8_t seed[1 << 17];
    seed[0] = 1; /* check values */
    size_t n = fread(seed + 1, 1, sizeof seed - 1, f);
    fclose(f);
    fr_fuzz_write_seed("table", seed, n + 1);
    return 0;
}

static uint64_t u64_at(const uint8_t *p, size_t off)
{
    uint64_t v;
    memcpy(&v, p + off, 8);
    return v;
}

/* Recompute the section CRCs and the header CRC of a file whose header
 * describes sections that lie within it (else leave it). */
static void repair_crcs(uint8_t *file, size_t size)
{
    if (size < 136)
        return;
    uint64_t rows = u64_at(file, 16), n_cat = u64_at(file, 24), n_num = u64_at(file, 32);
    uint64_t n_tasks = u64_at(file, 40), header_bytes = u64_at(file, 56);
    if (rows > (1u << 20) || n_cat > (1u << 16) || n_num > (1u << 16) || n_tasks > 64)
        return;
    uint64_t per_row[5] = {4 * n_cat, 4 * n_num, 4, n_tasks, 1};
    for (int k = 0; k < 5; k++) {
        uint64_t off = u64_at(file, 72 + 8 * (size_t)k), len = per_row[k] * rows;
        if (off <= size && len <= size - off) {
            uint32_t crc = fr_crc32(0, file + off, (size_t)len);
            memcpy(file + 112 + 4 * k, &crc, 4);
        }
    }
    if (header_bytes < 136 || header_bytes > size)
        return;
    memset(file + 132, 0, 4);
    uint32_t crc = fr_crc32(0, file, (size_t)header_bytes);
    memcpy(file + 132, &crc, 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int check_values = data[0] & 1, fix_crc = (data[0] >> 1) & 1;
    data++;
    size--;
    uint8_t *file = fr_fuzz_copy(data, size);
    if (fix_crc)
        repair_crcs(file, size);
    const char *path = fr_fuzz_file(1, "input.frt", file, size);
    free(file);
    fr_table t;
    fr_status s = fr_table_map(&t, path, check_values);
    if (s != FR_OK) {
        fr_fuzz_expect_named(s, path);
        return 0;
    }
    if (check_values)
        fr_fuzz_check_table(&t, path);
    fr_table_free(&t);
    return 0;
}
