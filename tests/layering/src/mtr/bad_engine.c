/* Breaks: a model computes on the CPU backend's private engine. */
#include "backend/cpu/cpu_engine.h"
