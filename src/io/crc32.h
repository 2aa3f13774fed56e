/* crc32.h — CRC-32 (IEEE 802.3, the zlib/PNG polynomial) for file checksums. */
#ifndef FR_CRC32_H
#define FR_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over len more bytes; start with crc = 0. */
uint32_t fr_crc32(uint32_t crc, const void *data, size_t len);

#endif
