/* crc32.c — table-driven CRC-32 (reflected polynomial 0xEDB88320). The
 * table is built on first use; building it twice from two threads writes the
 * same values, so no lock is needed. */
#include "io/crc32.h"

static uint32_t table[256];
static volatile int table_ready;

static void build_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    table_ready = 1;
}

uint32_t fr_crc32(uint32_t crc, const void *data, size_t len)
{
    if (!table_ready)
        build_table();
    const unsigned char *p = data;
    crc = ~crc;
    while (len--)
        crc = table[(crc ^ *p++) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}
