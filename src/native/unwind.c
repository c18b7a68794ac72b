#include "config.h"

#include "native/unwind.h"

#include "core/error.h"
#include "native/hold.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(HAVE_LIBUNWIND)

#include <elf.h>
#include <libunwind.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>

/* libunwind's own search of a .eh_frame_hdr binary-search table, exported
 * by libunwind but not declared in its public headers, so declared here.
 * It reads the table and the FDEs through our accessors. */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
                                              unw_dyn_info_t *di, unw_proc_info_t *pi,
                                              int need_unwind_info, void *arg);

#define PAGE 4096u
#define STACK_PAGES 32           /* per unwind */
#define CODE_PAGES 64            /* code and unwind tables, across unwinds */
/* The live part of a stack copied while the thread is stopped: from its
 * stack pointer up to the end of the mapping, at most this much. */
#define STACK_COPY_MAX (512u << 10)

struct page_slot {
    uint64_t page;               /* page address; 0: empty */
    unsigned gen;                /* for stack pages: the unwind it belongs to */
    uint8_t data[PAGE];
};

struct native_unwinder {
    pid_t pid;
    struct native_symbols *syms;
    unw_addr_space_t as;
    /* The thread being unwound. */
    struct user_regs_struct regs;
    uint8_t *stack_copy;            /* STACK_COPY_MAX bytes, owned */
    uint64_t stack_base;
    size_t stack_len;
    unsigned gen;
    struct page_slot stack[STACK_PAGES];
    struct page_slot code[CODE_PAGES];
    struct thread_hold *hold;
    struct native_unwind_stats stats;
};

/* ---- memory ---------------------------------------------------------- */

static int read_remote(struct native_unwinder *u, uint64_t addr, void *buf, size_t len)
{
    struct iovec local = { buf, len };
    struct iovec remote = { (void *)(uintptr_t)addr, len };
    u->stats.page_reads++;
    ssize_t n = process_vm_readv(u->pid, &local, 1, &remote, 1, 0);
    return n == (ssize_t)len ? 0 : -EFAULT;
}

/* The cached page holding addr: stack pages live for one unwind (the
 * thread runs on between unwinds), pages of read-only mappings (code,
 * .eh_frame) for the unwinder's life. Slots are direct-mapped. */
static const uint8_t *page_of(struct native_unwinder *u, uint64_t addr)
{
    uint64_t page = addr & ~(uint64_t)(PAGE - 1);
    size_t h = (size_t)((page / PAGE) * 0x9E3779B97F4A7C15ull >> 40);
    struct page_slot *s = &u->code[h % CODE_PAGES];
    if (s->page == page)
        return s->data;
    struct page_slot *t = &u->stack[h % STACK_PAGES];
    if (t->page == page && t->gen == u->gen)
        return t->data;
    if (native_symbols_readonly(u->syms, page)) {
        if (read_remote(u, page, s->data, PAGE) != 0) {
            s->page = 0;
            return NULL;
        }
        s->page = page;
        return s->data;
    }
    if (read_remote(u, page, t->data, PAGE) != 0) {
        t->page = 0;
        return NULL;
    }
    t->page = page;
    t->gen = u->gen;
    return t->data;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write,
                      void *arg)
{
    (void)as;
    struct native_unwinder *u = arg;
    if (write)
        return -UNW_EINVAL;
    /* The stack as it was when the thread was stopped. */
    if (addr >= u->stack_base && addr - u->stack_base <= u->stack_len &&
        u->stack_len - (addr - u->stack_base) >= sizeof *val) {
        memcpy(val, u->stack_copy + (addr - u->stack_base), sizeof *val);
        return 0;
    }
    uint64_t off = addr & (PAGE - 1);
    if (off + sizeof *val <= PAGE) {
        const uint8_t *p = page_of(u, addr);
        if (!p)
            return -UNW_EINVAL;
        memcpy(val, p + off, sizeof *val);
        return 0;
    }
    /* A word across two pages. */
    uint8_t tmp[sizeof *val];
    size_t first = PAGE - (size_t)off;
    const uint8_t *a = page_of(u, addr);
    if (!a)
        return -UNW_EINVAL;
    memcpy(tmp, a + off, first);
    const uint8_t *b = page_of(u, addr + first);
    if (!b)
        return -UNW_EINVAL;
    memcpy(tmp + first, b, sizeof tmp - first);
    memcpy(val, tmp, sizeof tmp);
    return 0;
}

/* ---- registers ------------------------------------------------------- */

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write,
                      void *arg)
{
    (void)as;
    struct native_unwinder *u = arg;
    const struct user_regs_struct *r = &u->regs;
    if (write)
        return -UNW_EINVAL;
    switch (reg) {
    case UNW_X86_64_RAX: *val = r->rax; break;
    case UNW_X86_64_RDX: *val = r->rdx; break;
    case UNW_X86_64_RCX: *val = r->rcx; break;
    case UNW_X86_64_RBX: *val = r->rbx; break;
    case UNW_X86_64_RSI: *val = r->rsi; break;
    case UNW_X86_64_RDI: *val = r->rdi; break;
    case UNW_X86_64_RBP: *val = r->rbp; break;
    case UNW_X86_64_RSP: *val = r->rsp; break;
    case UNW_X86_64_R8: *val = r->r8; break;
    case UNW_X86_64_R9: *val = r->r9; break;
    case UNW_X86_64_R10: *val = r->r10; break;
    case UNW_X86_64_R11: *val = r->r11; break;
    case UNW_X86_64_R12: *val = r->r12; break;
    case UNW_X86_64_R13: *val = r->r13; break;
    case UNW_X86_64_R14: *val = r->r14; break;
    case UNW_X86_64_R15: *val = r->r15; break;
    case UNW_X86_64_RIP: *val = r->rip; break;
    default: return -UNW_EBADREG;
    }
    return 0;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
                        void *arg)
{
    (void)as, (void)reg, (void)val, (void)write, (void)arg;
    return -UNW_EBADREG;
}

/* ---- unwind tables ----------------------------------------------------- */

enum { PE_OMIT = 0xff, PE_UDATA4 = 0x03, PE_SDATA4 = 0x0b, PE_UDATA8 = 0x04,
       PE_SDATA8 = 0x0c, PE_DATAREL_SDATA4 = 0x3b };

static int pe_size(unsigned enc)
{
    switch (enc & 0x0f) {
    case PE_UDATA4: case PE_SDATA4: return 4;
    case PE_UDATA8: case PE_SDATA8: return 8;
    default: return 0;
    }
}

/* Decode .eh_frame_hdr once per object: version 1, the encodings, the
 * encoded .eh_frame pointer, the FDE count, then the sorted table of
 * (initial location, FDE) pairs relative to the header, which is the only
 * table layout libunwind searches. */
static int decode_eh_frame_hdr(struct native_unwinder *u, struct native_object *o)
{
    if (o->fde_count >= 0)
        return o->fde_count > 0 ? 0 : -UNW_ENOINFO;
    o->fde_count = 0;
    uint8_t h[4 + 8 + 8];
    if (!o->eh_frame_hdr || read_remote(u, o->eh_frame_hdr, h, sizeof h) != 0)
        return -UNW_ENOINFO;
    int ptr_size = pe_size(h[1]), count_size = pe_size(h[2]);
    if (h[0] != 1 || h[3] != PE_DATAREL_SDATA4 || h[1] == PE_OMIT || !ptr_size ||
        !count_size)
        return -UNW_ENOINFO;
    uint64_t count = 0;
    if (count_size == 4) {
        uint32_t c;
        memcpy(&c, h + 4 + ptr_size, 4);
        count = c;
    } else {
        memcpy(&count, h + 4 + ptr_size, 8);
    }
    if (count == 0 || count > (1u << 26))
        return -UNW_ENOINFO;
    o->eh_table = o->eh_frame_hdr + 4 + (uint64_t)ptr_size + (uint64_t)count_size;
    o->fde_count = (int64_t)count;
    return 0;
}

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
                          int need_unwind_info, void *arg)
{
    struct native_unwinder *u = arg;
    struct native_object *o = native_symbols_object(u->syms, ip);
    if (!o || decode_eh_frame_hdr(u, o) != 0)
        return -UNW_ENOINFO;
    unw_dyn_info_t di;
    memset(&di, 0, sizeof di);
    di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
    di.start_ip = o->start;
    di.end_ip = o->end;
    di.u.rti.segbase = o->eh_frame_hdr;
    di.u.rti.table_data = o->eh_table;
    /* Entries are two 32-bit words; the length is counted in words. */
    di.u.rti.table_len = (unw_word_t)o->fde_count * 8 / sizeof(unw_word_t);
    return UNW_OBJ(dwarf_search_unwind_table)(as, ip, &di, pi, need_unwind_info, arg);
}

static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
    /* libunwind frees the DWARF info it allocated for table lookups. */
    (void)as, (void)pi, (void)arg;
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
    (void)as, (void)addr, (void)arg;
    return -UNW_ENOINFO;
}

static int resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
    (void)as, (void)c, (void)arg;
    return -UNW_EINVAL;
}

static int get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len,
                         unw_word_t *off, void *arg)
{
    (void)as, (void)addr, (void)buf, (void)len, (void)off, (void)arg;
    return -UNW_EINVAL;   /* names come from the symbolizer */
}

static unw_accessors_t accessors = {
    .find_proc_info = find_proc_info,
    .put_unwind_info = put_unwind_info,
    .get_dyn_info_list_addr = get_dyn_info_list_addr,
    .access_mem = access_mem,
    .access_reg = access_reg,
    .access_fpreg = access_fpreg,
    .resume = resume,
    .get_proc_name = get_proc_name,
};

int native_unwinder_new(pid_t pid, struct native_symbols *syms, struct native_unwinder **out)
{
    struct native_unwinder *u = calloc(1, sizeof *u);
    if (!u)
        return -ENOMEM;
    u->pid = pid;
    u->syms = syms;
    u->stack_copy = malloc(STACK_COPY_MAX);
    u->as = u->stack_copy ? unw_create_addr_space(&accessors, 0) : NULL;
    if (!u->as || thread_hold_new(pid, &u->hold) != 0) {
        if (u->as)
            unw_destroy_addr_space(u->as);
        free(u->stack_copy);
        free(u);
        return -ENOMEM;
    }
    /* Register rules per address, kept across samples: most return
     * addresses repeat from one sample to the next. */
    unw_set_caching_policy(u->as, UNW_CACHE_GLOBAL);
    unw_set_cache_size(u->as, 4096, 0);
    *out = u;
    return 0;
}

void native_unwinder_set_cancel(struct native_unwinder *u, const atomic_int *cancel)
{
    thread_hold_set_cancel(u->hold, cancel);
}

void native_unwinder_free(struct native_unwinder *u)
{
    if (!u)
        return;
    thread_hold_free(u->hold);
    unw_destroy_addr_space(u->as);
    free(u->stack_copy);
    free(u);
}

/* While the thread is stopped: its registers and the live part of its
 * stack, one read that ends where the stack's mapping does. */
static int capture(struct native_unwinder *u, pid_t tid)
{
    struct iovec iov = { &u->regs, sizeof u->regs };
    if (ptrace(PTRACE_GETREGSET, tid, (void *)(uintptr_t)NT_PRSTATUS, &iov) != 0)
        return errno == ESRCH ? -ESRCH : -errno;
    u->stack_base = u->regs.rsp & ~(uint64_t)(PAGE - 1);
    u->stack_len = 0;
    struct iovec local = { u->stack_copy, STACK_COPY_MAX };
    struct iovec remote = { (void *)(uintptr_t)u->stack_base, STACK_COPY_MAX };
    u->stats.page_reads++;
    /* A read running past the mapping stops there and says how far it got. */
    ssize_t got = process_vm_readv(u->pid, &local, 1, &remote, 1, 0);
    if (got > 0)
        u->stack_len = (size_t)got;
    return 0;
}

/* After the thread is let go: unwind from the captured registers and
 * stack (other memory, code and unwind tables, is read live). */
static int unwind_captured(struct native_unwinder *u, uint64_t *ips, uint64_t *sps, size_t cap,
                           size_t *n)
{
    u->gen++;
    unw_cursor_t c;
    if (unw_init_remote(&c, u->as, u) != 0)
        return -PT_ERR_BAD_DATA;
    size_t k = 0;
    for (;;) {
        unw_word_t ip;
        if (unw_get_reg(&c, UNW_REG_IP, &ip) != 0 || ip == 0)
            break;
        if (k == cap) {
            u->stats.truncated++;
            break;
        }
        if (sps) {
            unw_word_t sp = 0;
            sps[k] = unw_get_reg(&c, UNW_REG_SP, &sp) == 0 ? sp : 0;
        }
        ips[k++] = ip;
        if (unw_step(&c) <= 0)
            break;
    }
    if (k == 0)
        return -PT_ERR_BAD_DATA;
    *n = k;
    return 0;
}

/* Called while the thread is stopped. */
struct held_call {
    struct native_unwinder *u;
    pid_t tid;
    native_held_fn held;
    void *ctx;
};

static int while_held(void *arg)
{
    struct held_call *c = arg;
    int rc = capture(c->u, c->tid);
    if (rc == 0 && c->held)
        c->held(c->ctx);
    return rc;
}

int native_unwind_thread(struct native_unwinder *u, pid_t tid, uint64_t *ips, uint64_t *sps,
                         size_t cap, size_t *n, native_held_fn held, void *ctx)
{
    struct held_call c = { u, tid, held, ctx };
    int rc = thread_hold_run(u->hold, tid, while_held, &c, NULL);
    if (rc == 0)
        rc = unwind_captured(u, ips, sps, cap, n);
    if (rc == 0)
        u->stats.unwinds++;
    return rc;
}

#else /* no libunwind, or an architecture pytop does not unwind */

struct native_unwinder {
    int unused;
};

int native_unwinder_new(pid_t pid, struct native_symbols *syms, struct native_unwinder **out)
{
    (void)pid, (void)syms, (void)out;
    return -EOPNOTSUPP;
}

void native_unwinder_free(struct native_unwinder *u)
{
    free(u);
}

void native_unwinder_set_cancel(struct native_unwinder *u, const atomic_int *cancel)
{
    (void)u, (void)cancel;
}

int native_unwind_thread(struct native_unwinder *u, pid_t tid, uint64_t *ips, uint64_t *sps,
                         size_t cap, size_t *n, native_held_fn held, void *ctx)
{
    (void)u, (void)tid, (void)ips, (void)sps, (void)cap, (void)n, (void)held, (void)ctx;
    return -EOPNOTSUPP;
}

#endif

void native_unwinder_stats(const struct native_unwinder *u, struct native_unwind_stats *out)
{
#if defined(__x86_64__) && defined(HAVE_LIBUNWIND)
    *out = u->stats;
    struct thread_hold_stats h;
    thread_hold_stats(u->hold, &h);
    out->gone = h.gone;
    out->denied = h.denied;
    out->timeouts = h.timeouts;
    out->stop_wait_ns = h.stop_wait_ns;
    out->held_ns = h.held_ns;
#else
    (void)u;
    memset(out, 0, sizeof *out);
#endif
}
