/* pytop --export, and writing export files for snapshots. */
#ifndef PYTOP_APP_EXPORT_CMD_H
#define PYTOP_APP_EXPORT_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "record/export.h"
#include "record/export_model.h"

struct export_request {
    const char *recording;
    enum export_format fmt;
    enum export_mode mode;           /* the weight */
    const char *out_path;            /* NULL or "-": stdout */
    int gil;                         /* --gil: only threads holding the GIL */
    const char *baseline;            /* --baseline: a recording to compare with, or NULL */
};

/* Convert a recording to a profile. Says on stderr what failed, naming
 * the file, and what was lost from a recording cut short or damaged.
 * Returns pytop's exit status: 0 (also for a recording cut short, with a
 * note), 3 when the profile was written from a damaged recording (what
 * came before the damage), 1 when nothing was written. */
int export_cmd_run(const struct export_request *rq);

/* Whether path may be written: a regular file that is not input, or a new
 * name in a writable directory (never a link, device, FIFO, ...); NULL or
 * "-" (stdout) too. 0, or -1 after one line on stderr naming path. */
int export_check_output(const char *path, const char *input);

#endif
