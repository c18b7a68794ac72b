#include "config.h"
/* placeholder: being written */
typedef int pytop_placeholder_t;
