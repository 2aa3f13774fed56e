/* job_setup.c — opening the backend a configuration asks for, and the
 * report file of train's jobs (see job_setup.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/job_setup.h"
#include "io/atomic_file.h"

fr_status fr_cli_open_backend(const fr_config *cfg, fr_backend **out)
{
    const char *kind, *isa, *platform, *device;
    int64_t threads, min_elements;
    fr_status s;
    if ((s = fr_config_get_string(cfg, "backend.kind", &kind)) != FR_OK ||
        (s = fr_config_get_string(cfg, "backend.cpu_isa", &isa)) != FR_OK ||
        (s = fr_config_get_int(cfg, "backend.threads", &threads)) != FR_OK ||
        (s = fr_config_get_string(cfg, "opencl.platform", &platform)) != FR_OK ||
        (s = fr_config_get_string(cfg, "opencl.device", &device)) != FR_OK ||
        (s = fr_config_get_int(cfg, "opencl.min_elements", &min_elements)) != FR_OK)
        return s;
    fr_backend_options opt;
    fr_backend_options_default(&opt);
    opt.kind = !strcmp(kind, "cpu") ? FR_BACKEND_CPU
               : !strcmp(kind, "opencl") ? FR_BACKEND_OPENCL : FR_BACKEND_AUTO;
    if ((s = fr_cpu_isa_parse(isa, &opt.cpu_isa)) != FR_OK)
        return s;
    opt.threads = (int)threads;
    opt.opencl_platform = platform;
    opt.opencl_device = device;
    opt.opencl_min_elements = (size_t)min_elements;
    return fr_backend_open(&opt, out);
}

FILE *fr_cli_open_report(const char *path, const char *mode)
{
    FILE *f = fopen(path, mode);
    if (!f)
        fprintf(stderr, "fedrec: %s: cannot write the report: %s\n", path, strerror(errno));
    return f;
}

int fr_cli_close_report(FILE *report, const char *path, int run_ok, int code)
{
    if (report && fclose(report) != 0 && run_ok) {
        fprintf(stderr, "fedrec: %s: write failed: %s\n", path, strerror(errno));
        return FR_EXIT_FAILURE;
    }
    return code;
}

/* Keep the report rows of rounds or epochs <= last, or (by_count) the
 * first `last` rows, and the CSV header: a resumed run rewrites the rounds
 * or epochs after its checkpoint. */
static fr_status trim_report(const char *path, int64_t last, int by_count)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return FR_OK; /* no report yet */
    char *kept = NULL, *line = NULL;
    size_t kept_len = 0, cap = 0;
    ssize_t got;
    FILE *mem = open_memstream(&kept, &kept_len);
    int cut_short = 0;
    long long rows = 0;
    for (long long n = 1; mem && (got = getline(&line, &cap, f)) > 0; n++) {
        long long round = -1;
        if (line[got - 1] != '\n') {
            cut_short = 1; /* a row cut short by a crash */
            break;
        }
        if (by_count) /* rows, JSON or CSV, start with '{' or the epoch */
            round = line[0] == '{' || (line[0] >= '0' && line[0] <= '9') ? ++rows : n == 1 ? 0 : last + 1;
        else if (sscanf(line, "{\"round\":%lld", &round) != 1 && sscanf(line, "{\"epoch\":%lld", &round) != 1 &&
                 sscanf(line, "%lld,", &round) != 1)
            round = n == 1 ? 0 : last + 1; /* the CSV header, or a damaged row */
        if (round <= last)
            fputs(line, mem);
    }
    /* getline also stops when it cannot grow the line, neither at the end
     * nor in error: rewriting then would drop rows. */
    int err = errno, read_error = mem && !cut_short && ferror(f);
    int short_of_memory = mem && !cut_short && !feof(f) && !ferror(f);
    free(line);
    fclose(f);
    if (!mem)
        return fr_cli_fail(FR_ERR_NOMEM, "%s: out of memory for the report's rows", path);
    /* A memory stream fails only when it cannot grow (a write, or the
     * last flush in fclose). */
    short_of_memory |= ferror(mem);
    if (fclose(mem) != 0)
        short_of_memory = 1;
    if (read_error || short_of_memory) {
        free(kept);
        return read_error ? fr_cli_fail(FR_ERR_IO, "%s: cannot read the report back: %s", path, strerror(err))
                          : fr_cli_fail(FR_ERR_NOMEM, "%s: out of memory reading the report back", path);
    }
    /* Rewritten atomically: a run killed here keeps the old report. */
    fr_atomic_file af;
    fr_status s = fr_atomic_open(&af, path);
    if (s == FR_OK && kept_len && fwrite(kept, 1, kept_len, af.f) != kept_len) {
        int werr = errno;
        fr_atomic_abort(&af);
        free(kept);
        return fr_cli_fail(FR_ERR_IO, "%s: cannot rewrite the report: %s", path, strerror(werr));
    }
    if (s == FR_OK)
        s = fr_atomic_commit(&af);
    free(kept);
    if (s != FR_OK) { /* the library's message: out of memory or the I/O error */
        char why[512];
        snprintf(why, sizeof why, "%s", fr_last_error());
        return fr_cli_fail(s, "%s: cannot rewrite the report: %s", path, why);
    }
    return FR_OK;
}

fr_status fr_cli_trim_report(const char *path, int64_t last)
{
    return trim_report(path, last, 0);
}

fr_status fr_cli_trim_report_rows(const char *path, int64_t rows)
{
    return trim_report(path, rows, 1);
}
