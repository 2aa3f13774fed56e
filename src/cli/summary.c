/* summary.c — the --summary JSON file (see summary.h). Written to a
 * temporary file and renamed, so a reader never sees half a summary. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "cli/summary.h"
#include "io/atomic_file.h"

void fr_cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void fr_cli_json_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.10g", v);
    else
        fputs("null", f); /* JSON has no NaN or infinity */
}

int fr_cli_write_summary(const char *path, const fr_config *cfg,
                         const fr_cli_metric *metrics, size_t n_metrics,
                         double wall_seconds)
{
    char *ini = NULL;
    fr_status s = fr_config_print_string(cfg, &ini);
    if (s != FR_OK)
        return fr_cli_report(s, "summary");
    uint64_t seed = 0;
    fr_config_get_uint64(cfg, "run.seed", &seed);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fr_atomic_file af;
    s = fr_atomic_open(&af, path);
    if (s != FR_OK) {
        free(ini);
        return fr_cli_report(s, "summary");
    }
    FILE *f = af.f;
    fputs("{\n  \"metrics\": {", f);
    for (size_t i = 0; i < n_metrics; i++) {
        fputs(i ? ",\n    " : "\n    ", f);
        fr_cli_json_string(f, metrics[i].name);
        fputs(": ", f);
        fr_cli_json_number(f, metrics[i].value);
    }
    fprintf(f, "\n  },\n  \"seed\": %llu,\n  \"wall_seconds\": ", (unsigned long long)seed);
    fr_cli_json_number(f, wall_seconds);
    fprintf(f, ",\n  \"peak_rss_bytes\": %lld,\n  \"config\": ", (long long)ru.ru_maxrss * 1024);
    fr_cli_json_string(f, ini);
    fputs("\n}\n", f);
    free(ini);
    s = ferror(f) ? FR_ERR_IO : fr_atomic_commit(&af);
    if (s != FR_OK) {
        if (af.f)
            fr_atomic_abort(&af);
        return fr_cli_report(s, "summary");
    }
    return FR_EXIT_OK;
}
