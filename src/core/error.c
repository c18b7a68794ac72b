#include "config.h"

#include "core/error.h"

#include <string.h>

const char *pt_strerror(int err)
{
    if (err < 0)
        err = -err;
    switch (err) {
    case 0: return "success";
    case PT_ERR_NOT_PYTHON: return "not a Python process";
    case PT_ERR_UNSUPPORTED: return "unsupported Python version";
    case PT_ERR_BAD_DATA: return "unexpected data in target memory";
    case PT_ERR_NATIVE_MISMATCH:
        return "the C stack's eval-loop calls do not match the Python frames";
    case PT_ERR_NO_INTERP: return "the interpreter is not initialised yet";
    case PT_ERR_TRUNCATED: return "data cut short at a safety bound";
    case PT_ERR_FORMAT: return "unrecognised file format";
    case PT_ERR_NO_SYMBOL: return "symbol not found";
    case PT_ERR_TOO_NEW: return "a Python version newer than this pytop";
    case PT_ERR_TORN: return "the stack changed while it was read";
    default: break;
    }
    if (err < PT_ERR_BASE)
        return strerror(err);
    return "unknown error";
}
