/* pytop --dump: every thread's stack, once, as text or JSON. */
#ifndef PYTOP_APP_DUMP_H
#define PYTOP_APP_DUMP_H

#include <stdio.h>

#include "python/discover.h"

/* Read the target once and write the report to out. Returns 0 or a
 * negative error (-ESRCH when the target exited while being read). */
int dump_run(struct py_target *t, int json, FILE *out);
/* The same with --native: C frames merged in (native_all: the
 * interpreter's own too). -EOPNOTSUPP without libunwind. */
int dump_run_native(struct py_target *t, int json, int native_all, FILE *out);

#endif
