/* Parsing /proc/PID/maps. */
#ifndef PYTOP_PROC_MAPS_H
#define PYTOP_PROC_MAPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_map {
    uint64_t start, end;     /* [start, end) */
    uint64_t offset;         /* file offset of start */
    unsigned perms;          /* PROC_MAP_R | _W | _X | _P (private) */
    uint64_t inode;
    unsigned dev_major, dev_minor;
    char *path;              /* owned; "" for anonymous; " (deleted)" suffix stripped */
    int deleted;             /* the file was unlinked */
};

enum { PROC_MAP_R = 1, PROC_MAP_W = 2, PROC_MAP_X = 4, PROC_MAP_P = 8 };

struct proc_maps {
    struct proc_map *maps;   /* owned, sorted by start as the kernel lists them */
    size_t count;
};

/* Parse maps text (the whole file's content). Malformed lines are skipped.
 * Returns 0 or -ENOMEM. */
int proc_maps_parse(const char *text, size_t len, struct proc_maps *out);
/* Read and parse /proc/PID/maps: -ESRCH if there is no such process,
 * -EACCES/-EPERM when not allowed. */
int proc_maps_read(pid_t pid, struct proc_maps *out);
void proc_maps_release(struct proc_maps *m);

/* The mapping containing addr, or NULL. */
const struct proc_map *proc_maps_find(const struct proc_maps *m, uint64_t addr);

/* A path through which pytop can open the file behind map for reading even
 * when it was deleted or lives in another mount namespace:
 * /proc/PID/map_files/START-END, falling back to /proc/PID/root/PATH.
 * Writes into buf (NUL-terminated); returns 0, -ENAMETOOLONG, or -ENOENT
 * when the mapping has no file (or a deleted one that map_files cannot
 * reach). */
int proc_map_open_path(pid_t pid, const struct proc_map *map, char *buf, size_t cap);

#endif
