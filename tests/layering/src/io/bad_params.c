/* Breaks: io (the bottom layer) includes nn. */
#include "fedrec/params.h"
