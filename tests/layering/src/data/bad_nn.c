/* Breaks: data code includes nn. */
#include "fedrec/nn.h"
