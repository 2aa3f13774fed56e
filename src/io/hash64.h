/* hash64.h — a 64-bit hash of bytes, for fingerprints of data contents
 * (checkpoints, multi-rank start-up): not cryptographic, only so that two
 * data sets that differ anywhere are told apart (internal). */
#ifndef FR_HASH64_H
#define FR_HASH64_H

#include <stddef.h>
#include <stdint.h>

/* Continue hash h over len more bytes (start with h = 0). The length is
 * mixed in, so ("ab", "c") and ("a", "bc") differ. */
uint64_t fr_hash64(uint64_t h, const void *data, size_t len);

#endif
