/* --subprocesses: the target's descendants, found and attached to while
 * they run; and the target's own exec, followed into the new image. */
#include "config.h"

#include "sampler/sampler_internal.h"

#include "core/error.h"
#include "core/vec.h"
#include "proc/children.h"
#include "proc/process.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- descendants (--subprocesses) ----------------------------------------------------------- */

struct candidate *candidate_find(struct sampler *s, pid_t pid)
{
    for (size_t i = 0; i < s->ncands; i++)
        if (s->cands[i].pid == pid)
            return &s->cands[i];
    return NULL;
}

static struct candidate *candidate_add(struct sampler *s, pid_t pid, pid_t ppid)
{
    if (s->ncands == s->cap_cands) {
        if (s->cap_cands >= PROC_DESCENDANTS_MAX)
            return NULL;
        struct candidate *n = vec_grow(s->cands, &s->cap_cands, s->ncands + 1, sizeof *n, 16);
        if (!n)
            return NULL;
        s->cands = n;
    }
    struct candidate *c = &s->cands[s->ncands++];
    memset(c, 0, sizeof *c);
    c->pid = pid;
    c->ppid = ppid;
    c->state = CAND_PENDING;
    return c;
}

static ssize_t proc_index(const struct sampler *s, pid_t pid)
{
    for (size_t i = 0; i < s->nprocs; i++)
        if (s->procs[i]->target->pid == pid)
            return (ssize_t)i;
    return -1;
}

/* Try to sample a descendant: it may not be Python, or not yet. */
static void candidate_try(struct sampler *s, struct candidate *c)
{
    if (s->nprocs >= SAMPLER_MAX_PROCESSES)
        return;
    struct py_target *t;
    int rc = py_target_open(c->pid, s->cfg.layout_source, &t);
    c->attempts++;
    if (rc == 0) {
        if (proc_track_add(s, t, 1, c->ppid, NULL) != 0) {
            py_target_free(t);
            return;
        }
        c->state = CAND_SAMPLED;
        return;
    }
    /* Not Python: right after an exec the dynamic loader has not mapped
     * libpython yet, so look again a few times, then only when its command
     * line changes (another exec). Python not initialised, or caught in
     * the middle of starting: retry a while. */
    unsigned limit = rc == -PT_ERR_NOT_PYTHON ? CANDIDATE_NOT_PYTHON_ATTEMPTS
                                               : CANDIDATE_MAX_ATTEMPTS;
    c->state = c->attempts < limit ? CAND_PENDING : CAND_NOT_PYTHON;
}

void discover_children(struct sampler *s, uint64_t now)
{
    if (!s->cfg.subprocesses || (s->children_at_ns && now - s->children_at_ns < s->cfg.children_every_ns))
        return;
    s->children_at_ns = now;
    s->discovery_round++;
    pid_t pids[PROC_DESCENDANTS_MAX], parents[PROC_DESCENDANTS_MAX];
    size_t n;
    if (proc_descendants(s->target->pid, pids, parents, PROC_DESCENDANTS_MAX, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        struct candidate *c = candidate_find(s, pids[i]);
        char command[sizeof c->command];
        if (proc_cmdline(pids[i], command, sizeof command) != 0)
            continue;   /* gone already */
        if (!c) {
            c = candidate_add(s, pids[i], parents[i]);
            if (!c)
                continue;
            memcpy(c->command, command, sizeof command);
        } else if (strcmp(c->command, command) != 0) {
            /* It exec'd: whatever was read of it before no longer holds. */
            memcpy(c->command, command, sizeof command);
            ssize_t k = proc_index(s, c->pid);
            if (k > 0)
                proc_track_remove(s, (size_t)k);
            c->state = CAND_PENDING;
            c->attempts = 0;
        }
        c->round = s->discovery_round;
        if (c->state == CAND_PENDING)
            candidate_try(s, c);
    }
    /* Forget descendants that are gone (pids are reused). */
    for (size_t i = 0; i < s->ncands;) {
        if (s->cands[i].round != s->discovery_round) {
            ssize_t k = proc_index(s, s->cands[i].pid);
            if (k > 0)
                proc_track_remove(s, (size_t)k);
            s->cands[i] = s->cands[--s->ncands];
        } else {
            i++;
        }
    }
}

/* ---- the target's exec ---------------------------------------------------------------------- */

#define EXEC_RETRY_EVERY_NS (NS_PER_SEC / 50)   /* attach attempts to the new image */
#define EXEC_NOT_PYTHON_NS (2 * NS_PER_SEC)     /* no interpreter mapped by then: not Python */
#define EXEC_GIVE_UP_NS (10 * NS_PER_SEC)       /* Python, but never initialised */

/* Whether the target runs another program than the one attached to (an
 * exec): its image identity changed while its pid lives on. */
int target_execd(struct sampler *s, uint64_t now)
{
    struct proc_track *p = s->procs[0];
    s->image_at_ns = now;
    uint64_t id;
    if (!p->have_image || proc_image_id(p->target->pid, &id) != 0 || id == p->image)
        return 0;
    if (proc_cmdline(p->target->pid, s->exec_command, sizeof s->exec_command) != 0)
        s->exec_command[0] = '\0';
    s->exec_pending = 1;
    s->exec_since_ns = now;
    s->exec_tried_ns = 0;
    return 1;
}

/* Attach to the target's new image, the way a descendant's exec is met in
 * discover_children: the new process gets its own process record (same
 * pid, new command) and its samples go on in the same run. Returns 0
 * (attached, or still waiting for its interpreter), -ESRCH (it exited),
 * or -PT_ERR_NOT_PYTHON (it runs something else: the run ends). */
int follow_exec(struct sampler *s, uint64_t now)
{
    if (s->exec_tried_ns && now - s->exec_tried_ns < EXEC_RETRY_EVERY_NS)
        return 0;
    s->exec_tried_ns = now;
    pid_t pid = s->procs[0]->target->pid;
    struct py_target *t;
    int rc = py_target_open(pid, s->cfg.layout_source, &t);
    if (rc == 0) {
        struct proc_track *np;
        if (proc_track_add(s, t, 1, 0, &np) != 0) {
            py_target_free(t);
            return 0;   /* out of memory now: try again */
        }
        /* The new image takes the target's place, first in procs. */
        s->nprocs--;
        proc_track_free(s->procs[0]);
        s->procs[0] = np;
        s->target = t;
        s->exec_pending = 0;
        pthread_mutex_lock(&s->stats_lock);
        s->stats.execs++;
        pthread_mutex_unlock(&s->stats_lock);
        return 0;
    }
    if (rc == -ESRCH || proc_is_dead(pid) == 1)
        return -ESRCH;
    uint64_t waited = now - s->exec_since_ns;
    if ((rc == -PT_ERR_NOT_PYTHON && waited >= EXEC_NOT_PYTHON_NS) || waited >= EXEC_GIVE_UP_NS) {
        /* It may have exec'd again meanwhile: name what runs now. */
        char cmd[sizeof s->exec_command];
        if (proc_cmdline(pid, cmd, sizeof cmd) == 0)
            memcpy(s->exec_command, cmd, sizeof cmd);
        return -PT_ERR_NOT_PYTHON;
    }
    return 0;
}
