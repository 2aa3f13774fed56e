/* lines.h — reading a text file line by line for the data readers
 * (internal): lines of any length, the newline and a '\r' before it
 * removed (and a UTF-8 byte-order mark before the first line), a NUL byte
 * inside a line an error naming the file and line. */
#ifndef FR_IO_LINES_H
#define FR_IO_LINES_H

#include <stddef.h>
#include "fedrec/error.h"

/* Called for every line (blank ones too, len 0), numbered from 1; line is
 * writable until the next call. A status other than FR_OK stops the
 * reading and is returned. */
typedef fr_status (*fr_line_fn)(void *arg, char *line, size_t len, size_t lineno);

/* Open path, hand each line to fn, close. Errors: the file cannot be
 * opened or read (FR_ERR_IO), a NUL byte in a line (FR_ERR_DATA), or what
 * fn returned. */
fr_status fr_read_lines(const char *path, fr_line_fn fn, void *arg);

/* Narrow the field (*f, *len) past leading and trailing blanks (spaces,
 * tabs), in place. */
void fr_trim_blanks(const char **f, size_t *len);

#endif
