/* Breaks: the federation core reaches the backend through a public header. */
#include "fedrec/door.h"
