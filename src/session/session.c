#include "config.h"

#include "session/session_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SOURCE_MAX_BYTES (16u << 20)

void session_base_init(struct session *s, const struct session_ops *ops,
                       const struct session_options *o)
{
    s->ops = ops;
    pthread_mutex_init(&s->lock, NULL);
    s->window_ns = o->window_ns;
    s->snapshot_dir = o->snapshot_dir ? o->snapshot_dir : ".";
    s->snapshot_format = o->snapshot_format;
    s->gil.on = o->gil;
    const char *delay = getenv("PYTOP_TEST_UI_DELAY_MS");
    if (delay && *delay)
        s->ui_delay_ns = strtoull(delay, NULL, 10) * 1000000ULL;
}

int session_model_add(struct session *s, struct model *m, const struct sample *smp)
{
    struct sample kept;
    int rc = gil_filter_apply(&s->gil, smp, &kept);
    return rc ? rc : model_add(m, &kept);
}

struct model *session_new_model(const struct session *s, const struct stack_table *dict)
{
    struct model_config cfg = { .window_ns = s->window_ns, .retention_ns = SESSION_RETENTION_NS };
    return model_new(&cfg, dict);
}

void session_lock(struct session *s)
{
    pthread_mutex_lock(&s->lock);
}

void session_unlock(struct session *s)
{
    if (s->ui_delay_ns) {
        struct timespec ts = { .tv_sec = (time_t)(s->ui_delay_ns / 1000000000ULL),
                               .tv_nsec = (long)(s->ui_delay_ns % 1000000000ULL) };
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&s->lock);
}

const struct model *session_model(struct session *s)
{
    return s->model;
}

const struct stack_table *session_dict(struct session *s)
{
    return s->dict;
}

void session_info(struct session *s, struct session_info *out)
{
    memset(out, 0, sizeof *out);
    out->exit_status = -1;
    out->pid = s->pid;
    out->command = s->command;
    out->python = s->python;
    out->rate_hz = s->rate_hz;
    out->gil_only = s->gil.on;
    s->ops->info(s, out);
}

void session_tick(struct session *s, uint64_t mono_ns)
{
    if (s->ops->tick)
        s->ops->tick(s, mono_ns);
}

void session_set_playing(struct session *s, int playing)
{
    if (s->ops->set_playing)
        s->ops->set_playing(s, playing);
}

int session_seek(struct session *s, int64_t delta_ns)
{
    return s->ops->seek ? s->ops->seek(s, delta_ns) : 0;
}

void session_reset(struct session *s)
{
    session_lock(s);
    model_reset(s->model);
    session_unlock(s);
}

void session_set_window(struct session *s, uint64_t window_ns)
{
    session_lock(s);
    s->window_ns = window_ns;
    model_set_window(s->model, window_ns);
    session_unlock(s);
}

int session_snapshot(struct session *s, enum model_range r, enum model_weight w,
                     const struct model_filter *filter, char *path, size_t cap)
{
    int rc = snapshot_path(path, cap, s->snapshot_dir, s->pid, s->snapshot_format);
    if (rc)
        return rc;
    struct export_context ctx = {
        .pid = s->pid,
        .python = s->python,
        .command = s->command,
        .start_unix_ns = s->start_unix_ns,
        .rate_hz = s->rate_hz,
    };
    session_lock(s);
    rc = export_model_to_file(path, s->model, s->dict, r, filter, s->snapshot_format,
                              w == MODEL_CPU ? EXPORT_CPU
                              : w == MODEL_WALL ? EXPORT_WALL : EXPORT_MEMORY, &ctx);
    session_unlock(s);
    return rc;
}

const char *session_snapshot_dir(const struct session *s)
{
    return s->snapshot_dir;
}

int session_read_source(struct session *s, const char *path, char **data, size_t *len)
{
    int fd = -1, rc;
    if (s->ops->open_file) {
        rc = s->ops->open_file(s, path, &fd);
    } else {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        rc = fd < 0 ? -errno : 0;
    }
    if (rc)
        return rc;
    struct stat st;
    if (fstat(fd, &st) != 0)
        rc = -errno;
    else if (!S_ISREG(st.st_mode))
        rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    if (rc) {
        close(fd);
        return rc;
    }
    if ((uint64_t)st.st_size > SOURCE_MAX_BYTES) {
        close(fd);
        return -EFBIG;
    }
    size_t cap = (size_t)st.st_size + 1, used = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    for (;;) {
        if (used + 1 >= cap) {
            if (cap > SOURCE_MAX_BYTES) {
                free(buf);
                close(fd);
                return -EFBIG;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                close(fd);
                return -ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + used, cap - 1 - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            free(buf);
            close(fd);
            return rc;
        }
        if (r == 0)
            break;
        used += (size_t)r;
    }
    close(fd);
    buf[used] = '\0';
    *data = buf;
    *len = used;
    return 0;
}

void session_free(struct session *s)
{
    if (!s)
        return;
    s->ops->release(s);
    gil_filter_free(&s->gil);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
