/* hash64.c — see hash64.h: eight bytes at a time through a multiply and
 * rotate, the tail zero-padded, the end value mixed (splitmix64's
 * finaliser) so that every input bit reaches every output bit. */
#include <string.h>

#include "io/hash64.h"

static uint64_t finish(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t fr_hash64(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    h = finish(h ^ ((uint64_t)len * 0x9e3779b97f4a7c15ull));
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h ^= w * 0x9e3779b97f4a7c15ull;
        h = ((h << 31) | (h >> 33)) * 0xff51afd7ed558ccdull;
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t w = 0;
        memcpy(&w, p, len);
        h ^= (w + len) * 0x9e3779b97f4a7c15ull;
        h = ((h << 31) | (h >> 33)) * 0xff51afd7ed558ccdull;
    }
    return finish(h);
}
