/* Breaks: the federation core includes a backend header. */
#include "backend/cpu/cpu_engine.h"
