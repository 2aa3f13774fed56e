/* Breaks: a model includes the federation core.s insides. */
#include "fed/fed_core.h"
