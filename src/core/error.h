/* Error codes shared by every library module.
 *
 * Functions return 0 on success, a negative errno for operating-system
 * failures (-ESRCH: the target is gone, -EPERM: not allowed to read it), or a
 * negative project code below PT_ERR_BASE for everything else. Library code
 * never prints and never exits: main turns these into messages. */
#ifndef PYTOP_CORE_ERROR_H
#define PYTOP_CORE_ERROR_H

enum pt_error {
    PT_ERR_BASE = 4096,
    PT_ERR_NOT_PYTHON,      /* no CPython interpreter in the process */
    PT_ERR_UNSUPPORTED,     /* a CPython version pytop has no layout for */
    PT_ERR_BAD_DATA,        /* remote memory did not look like what we expected */
    PT_ERR_NATIVE_MISMATCH, /* --native: the C stack's eval-loop calls do not match the Python frames */
    PT_ERR_NO_INTERP,       /* interpreter found, but no interpreter state yet */
    PT_ERR_TRUNCATED,       /* a bound was hit: a stack or string was cut short */
    PT_ERR_FORMAT,          /* a file is not in the expected format */
    PT_ERR_NO_SYMBOL,       /* a symbol was not found */
    PT_ERR_TOO_NEW,         /* a CPython version newer than pytop's tables */
    PT_ERR_TORN,            /* a stack changed while it was read and no re-read was whole */
    PT_ERR_LAST
};

/* A static description of err (negative errno or -PT_ERR_*); never NULL. */
const char *pt_strerror(int err);

#endif
