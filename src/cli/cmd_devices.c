/* cmd_devices.c — `fedrec devices`: what this machine offers fedrec: the
 * CPU, the instruction-set paths built and supported (and which one `auto`
 * picks), and the compute backends of this build. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "fedrec/backend.h"

static void cpu_model_name(char *out, size_t n)
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
                   "supported by this CPU, chosen by backend.cpu_isa = auto) and the\n"
                   "compute backends of this build.\n");
            return FR_EXIT_OK;
        }
        fprintf(stderr, "fedrec devices: unknown option '%s' (try --help)\n", argv[i]);
        return FR_EXIT_USAGE;
    }
    char model[256];
    cpu_model_name(model, sizeof model);
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
    printf("\nBackends:\n");
    printf("  cpu      yes  (backend.kind = auto selects it)\n");
    printf("  opencl   no   (this build has no OpenCL backend)\n");
    return FR_EXIT_OK;
}
