/* Breaks: the backend includes a layer above it. */
#include "nn/layer.h"
