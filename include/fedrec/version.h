/* fedrec/version.h — the library's version, at build time and at run time. */
#ifndef FEDREC_VERSION_H
#define FEDREC_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library actually loaded ("0.1.0"). */
const char *fr_version(void);

#ifdef __cplusplus
}
#endif
#endif
