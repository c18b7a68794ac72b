/* Command-line options. */
#ifndef PYTOP_APP_OPTIONS_H
#define PYTOP_APP_OPTIONS_H

#include <sys/types.h>

#include "python/discover.h"

enum pytop_mode {
    MODE_NONE,
    MODE_DUMP,
};

struct pytop_options {
    enum pytop_mode mode;
    pid_t pid;
    int json;
    enum py_layout_source layout_source;
    char **command;      /* after "--": a program to launch, NULL-terminated */
};

/* Parse argv. Returns 0, 1 when the program should exit 0 at once (--help,
 * --version were printed), or -1 after printing one line on stderr. */
int options_parse(int argc, char **argv, struct pytop_options *o);

#endif
