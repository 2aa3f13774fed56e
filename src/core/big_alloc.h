/* big_alloc.h — memory for large tables read at random rows (embedding
 * tables and their optimiser state): aligned to 2 MiB and, where the
 * system has transparent huge pages on request, asked for them, so that
 * a random row costs a cache miss and not a page walk besides. */
#ifndef FR_BIG_ALLOC_H
#define FR_BIG_ALLOC_H

#include <stddef.h>

/* bytes of memory (zeroed when zero is set), released with free(); NULL
 * when out of memory. */
void *fr_big_alloc(size_t bytes, int zero);

#endif
