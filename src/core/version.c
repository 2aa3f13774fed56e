/* version.c — the library's version string, from configure. */
#include "config.h"
#include "fedrec/version.h"

const char *fr_version(void)
{
    return PACKAGE_VERSION;
}
