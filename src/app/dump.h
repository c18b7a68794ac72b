/* pytop --dump: every thread's stack, once, as text or JSON. */
#ifndef PYTOP_APP_DUMP_H
#define PYTOP_APP_DUMP_H

#include <stdio.h>

#include "python/discover.h"

/* Read the target once and write the report to out: with native, C
 * frames merged in (native_all: the interpreter's own too; -EOPNOTSUPP
 * without libunwind); with blocking, each thread held while it is read,
 * and the pause reported. Returns 0 or a negative error (-ESRCH when the
 * target exited while being read). */
int dump_run_with(struct py_target *t, int json, int native, int native_all, int blocking,
                  FILE *out);

/* The same with async (--async): asyncio tasks too, each thread running
 * one rooted in it ("<task NAME>"), and every waiting task with its await
 * chain. -PT_ERR_UNSUPPORTED when the target's version has no tasks pytop
 * reads (before 3.11, free-threaded builds). */
int dump_run_async(struct py_target *t, int json, int native, int native_all, int blocking,
                   int async, FILE *out);

#endif
