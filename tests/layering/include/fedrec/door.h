/* A public header that brings the backend with it. */
#include "fedrec/backend.h"
