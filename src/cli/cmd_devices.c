/* cmd_devices.c — `fedrec devices`: what this machine offers fedrec: the
 * CPU, the instruction-set paths built and supported (and which one `auto`
 * picks), and the compute backends of this build. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/bench_util.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "fedrec/backend.h"

void fr_cli_cpu_model(char *out, size_t n)
{
    snprintf(out, n, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        /* x86 says "model name", some ARM kernels "Model" or "CPU part". */
        if (!strncmp(line, "model name", 10) || !strncmp(line, "Model", 5)) {
            char *colon = strchr(line, ':');
            if (colon) {
                colon++;
                while (*colon == ' ' || *colon == '\t')
                    colon++;
                colon[strcspn(colon, "\n")] = '\0';
                snprintf(out, n, "%s", colon);
                break;
            }
        }
    }
    fclose(f);
}

int fr_cli_devices(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("Usage: fedrec devices\n\n"
                   "Lists the CPU instruction-set paths (built into this binary,\n"
                   "supported by this CPU, chosen by backend.cpu_isa = auto), the OpenCL\n"
                   "platforms and devices (name, vendor, type, compute units, memory,\n"
                   "max work-group size, version), and what backend.kind = auto uses.\n");
            return FR_EXIT_OK;
        }
        fprintf(stderr, "fedrec devices: unknown option '%s' (try --help)\n", argv[i]);
        return FR_EXIT_USAGE;
    }
    char model[256];
    fr_cli_cpu_model(model, sizeof model);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("CPU: %s, %ld online core%s\n\n", model, cores, cores == 1 ? "" : "s");
    printf("  %-8s %-6s %-9s\n", "path", "built", "supported");
    const fr_cpu_isa paths[] = {FR_ISA_AVX512, FR_ISA_AVX2, FR_ISA_NEON, FR_ISA_SCALAR};
    fr_cpu_isa best = fr_cpu_isa_best();
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        printf("  %-8s %-6s %-9s%s\n", fr_cpu_isa_name(paths[i]),
               fr_cpu_isa_built(paths[i]) ? "yes" : "no",
               fr_cpu_isa_supported(paths[i]) ? "yes" : "no",
               paths[i] == best ? "  <- auto" : "");
    if (!fr_opencl_built()) {
        printf("\nOpenCL: not in this build (configure --enable-opencl with the ICD loader and CLBlast installed)\n");
        printf("backend.kind = auto uses: cpu (%s)\n", fr_cpu_isa_name(best));
        return FR_EXIT_OK;
    }
    fr_opencl_device_info *list;
    size_t count;
    fr_status s = fr_opencl_list_devices(&list, &count);
    if (s != FR_OK)
        return fr_cli_report(s, "devices");
    printf("\nOpenCL devices (%zu):\n", count);
    if (count == 0)
        printf("  none: no OpenCL driver is installed (pocl-opencl-icd runs OpenCL on the CPU)\n");
    long chosen = fr_opencl_auto_choice(list, count);
    for (size_t i = 0; i < count; i++) {
        const fr_opencl_device_info *d = &list[i];
        printf("  [%u.%u] %s%s\n", d->platform_index, d->device_index, d->name,
               (long)i == chosen ? "  <- auto" : "");
        printf("        platform %s; vendor %s; type %s; %u compute units; %.1f GiB; max work-group %zu; %s\n",
               d->platform, d->vendor, d->type, d->compute_units,
               (double)d->global_mem_bytes / (1024.0 * 1024.0 * 1024.0), d->max_work_group_size,
               d->version);
    }
    if (chosen < 0)
        printf("backend.kind = auto uses: cpu (%s), since no OpenCL GPU was found; backend.kind = opencl picks [%s]\n",
               fr_cpu_isa_name(best), count ? "0.0" : "none");
    else
        printf("backend.kind = auto uses: opencl [%u.%u]\n", list[chosen].platform_index,
               list[chosen].device_index);
    free(list);
    return FR_EXIT_OK;
}
