/* pytop --export, and writing export files for snapshots. */
#ifndef PYTOP_APP_EXPORT_CMD_H
#define PYTOP_APP_EXPORT_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "record/export.h"

/* Convert a recording to fmt, weighting by mode, into out_path (stdout
 * when NULL or "-"). Prints nothing; returns 0 or a negative error. */
int export_cmd_run(const char *recording, enum export_format fmt, enum export_mode mode,
                   const char *out_path);

struct export_context {
    uint32_t pid;
    const char *python;
    const char *command;
    uint64_t start_unix_ns;
    uint32_t rate_hz;
};

/* Write what model holds over range r as fmt into path, atomically (a
 * temporary file renamed into place, so a reader never sees half a file).
 * filter may be NULL. Returns 0 or a negative error. */
int export_model_to_file(const char *path, const struct model *m, const struct stack_table *dict,
                         enum model_range r, const struct model_filter *filter,
                         enum export_format fmt, enum export_mode mode,
                         const struct export_context *ctx);

/* DIR/pytop-PID-YYYYMMDD-HHMMSS[-N]<suffix> for the current local time,
 * unique in DIR. Returns 0 or -ENAMETOOLONG. */
int snapshot_path(char *buf, size_t cap, const char *dir, uint32_t pid, enum export_format fmt);

#endif
