/* fuzz_config.c — libFuzzer target for the configuration parser. The first
 * input byte picks INI text (fr_config_load_string) or one "section.key=
 * value" override per line (fr_config_set_arg, as --set gives them). A
 * refusal must name its origin; an accepted configuration must print to
 * INI text that loads back into the same configuration (printing it again
 * gives the same text). */
#include "config.h"
#include "fuzz_util.h"
#include "fedrec/config.h"

#include <stdlib.h>
#include <string.h>

FR_FUZZ_NO_INIT
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void expect_origin(fr_status s, const char *origin)
{
    (void)s;
    const char *msg = fr_last_error();
    if (!strstr(msg, origin))
        fr_fuzz_fail("the message does not name the origin", msg);
}

/* The INI text without its comment lines (they name where each value came
 * from, which differs after a reload), in place. */
static char *strip_comments(char *text)
{
    char *out = text;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
        if (*line != ';') {
            memmove(out, line, len);
            out += len;
        }
        line += len;
    }
    *out = 0;
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int overrides = data[0] & 1;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    fr_config *cfg;
    if (fr_config_create(&cfg) != FR_OK)
        fr_fuzz_fail("cannot create a configuration", fr_last_error());
    fr_status s = FR_OK;
    if (!overrides) {
        s = fr_config_load_string(cfg, text, "fuzz.ini");
        if (s != FR_OK)
            expect_origin(s, "fuzz.ini");
    } else {
        for (char *line = text, *next; s == FR_OK && line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = 0;
            if (!*line)
                continue;
            s = fr_config_set_arg(cfg, line, "--set");
            if (s != FR_OK)
                expect_origin(s, "--set");
        }
    }
    free(text);
    if (s == FR_OK) {
        char *printed = NULL, *again = NULL;
        fr_config *back = NULL;
        if (fr_config_print_string(cfg, &printed) != FR_OK || fr_config_create(&back) != FR_OK)
            fr_fuzz_fail("cannot print the configuration", fr_last_error());
        if (fr_config_load_string(back, printed, "printed") != FR_OK)
            fr_fuzz_fail("the printed configuration does not load back", fr_last_error());
        if (fr_config_print_string(back, &again) != FR_OK)
            fr_fuzz_fail("cannot print the configuration", fr_last_error());
        if (strcmp(strip_comments(printed), strip_comments(again)) != 0)
            fr_fuzz_fail("the configuration changed in a print/load round trip", printed);
        free(printed);
        free(again);
        fr_config_free(back);
    }
    fr_config_free(cfg);
    return 0;
}
