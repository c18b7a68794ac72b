/* pytop's recording format: a versioned, self-describing stream.
 *
 * A recording is a header (magic, format version, metadata) followed by
 * length-prefixed records: dictionary entries (strings, frames, call-path
 * nodes) as they first appear, samples that refer to them, and a closing
 * summary. The writer flushes at least four times a second, by sample time
 * and by the wall clock, so a recorder killed with SIGKILL leaves a file
 * that reads back up to its last whole record, a quarter of a second ago.
 * Readers skip record types they do not know (same major version) and
 * refuse another major version. The byte layout is in docs/recording.md. */
#ifndef PYTOP_RECORD_RECORDING_H
#define PYTOP_RECORD_RECORDING_H

#include <stddef.h>
#include <stdint.h>

#include "core/sample.h"
#include "core/stacks.h"

#define REC_FORMAT_MAJOR 1
#define REC_FORMAT_MINOR 3

struct recording_meta {
    uint32_t pid;
    char python[32];            /* "3.12.1" */
    char command[1024];         /* the target's command line */
    uint64_t start_unix_ns;     /* wall-clock time of the first sample */
    uint32_t rate_hz;           /* requested sampling rate */
};

struct recording_summary {
    uint64_t samples;
    uint64_t late;              /* samples taken after their deadline */
    uint64_t errors;            /* samples or threads that could not be read */
    uint64_t duration_ns;
    int target_exited;          /* the run ended because the target exited */
    int exit_status;            /* its exit status, when pytop launched it; else -1 */
    /* 1.2: thread samples by enum stack_kind, and threads read again
     * because a walk was not proven whole; have_stacks is 0 in older files. */
    int have_stacks;
    uint64_t stacks[STACK_KINDS];
    uint64_t retries;
};

struct rec_writer;

/* Create path (truncating it). Returns 0 or -errno. */
int rec_writer_open(const char *path, const struct recording_meta *meta,
                    struct rec_writer **out);
/* The same on an open file descriptor (a pipe, stdout, a memfd). On
 * success the writer owns fd and closes it in rec_writer_close; on failure
 * the caller keeps it. */
int rec_writer_open_fd(int fd, const struct recording_meta *meta, struct rec_writer **out);
/* Append a sample, first writing any dictionary entries it needs that
 * were not written yet, then its attachments: a process record before
 * the first sample of each pid (s->process, else for meta's pid the
 * metadata's python and command, else just the pid) and whenever
 * s->process is set, and a counters record when s->counters is set.
 * Flushes to the file when 250 ms of sample time, or of the wall clock
 * (monotonic), have passed since the last flush. Also flushes the first
 * sample (with the header) at once, and whenever 64 KiB are buffered. dict must be the
 * same table at every call and hold every name and stack the sample
 * refers to, and a sample has at most 65536 threads, else -EINVAL (the
 * sample is not written; the writer goes on). A write error sticks: this
 * and every later call return it. */
int rec_writer_sample(struct rec_writer *w, const struct stack_table *dict,
                      const struct sample *s);
int rec_writer_flush(struct rec_writer *w);
/* Flush by the wall clock every every_ns instead of 250 ms (0: back to
 * 250 ms); for tests that check the sample-time rule alone. */
void rec_writer_set_wall_flush(struct rec_writer *w, uint64_t every_ns);
/* Write the summary, flush and close. Returns the first error seen by any
 * call (so a failed write is never silent). NULL is fine. */
int rec_writer_close(struct rec_writer *w, const struct recording_summary *summary);

struct rec_reader;

/* Open a recording. -PT_ERR_FORMAT when the file is not a pytop recording
 * (or of an unknown major version), -errno when it cannot be opened. */
int rec_reader_open(const char *path, struct rec_reader **out);
/* Read a recording held in memory (borrowed: data must outlive the
 * reader); for fuzzing and tests. */
int rec_reader_open_mem(const void *data, size_t len, struct rec_reader **out);
const struct recording_meta *rec_reader_meta(const struct rec_reader *r);
/* The dictionary read so far (owned by the reader). */
const struct stack_table *rec_reader_dict(const struct rec_reader *r);
/* The next sample: 1 and *out (valid until the next call, and so are
 * its process and counters attachments, NULL when the file has none
 * for it), 0 at the end, negative on a read error. A file cut short ends at its last whole
 * record, and rec_reader_truncated() then says so. */
int rec_reader_next(struct rec_reader *r, struct sample *out);
int rec_reader_truncated(const struct rec_reader *r);
/* The closing summary, if the file has one (1), else 0. */
int rec_reader_summary(const struct rec_reader *r, struct recording_summary *out);
void rec_reader_close(struct rec_reader *r);   /* NULL is fine */

#endif
