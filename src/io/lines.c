/* lines.c — the line reader of the data readers (see lines.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "io/lines.h"

fr_status fr_read_lines(const char *path, fr_line_fn fn, void *arg)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return fr_fail(FR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;
    fr_status s = FR_OK;
    while (s == FR_OK && (got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        char *text = line;
        if (lineno == 1 && got >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) { /* a UTF-8 byte-order mark */
            text += 3;
            got -= 3;
        }
        if ((size_t)got != strlen(text))
            s = fr_fail(FR_ERR_DATA, "%s:%zu: a NUL byte inside the line", path, lineno);
        else
            s = fn(arg, text, (size_t)got, lineno);
    }
    if (s == FR_OK && ferror(f))
        s = fr_fail(FR_ERR_IO, "%s: read error: %s", path, strerror(errno));
    else if (s == FR_OK && !feof(f)) /* getline could not grow the line (ENOMEM) */
        s = fr_fail(FR_ERR_NOMEM, "%s:%zu: out of memory reading the line", path, lineno + 1);
    free(line);
    fclose(f);
    return s;
}

void fr_trim_blanks(const char **f, size_t *len)
{
    while (*len && (**f == ' ' || **f == '\t')) {
        (*f)++;
        (*len)--;
    }
    while (*len && ((*f)[*len - 1] == ' ' || (*f)[*len - 1] == '\t'))
        (*len)--;
}
