# A code object freed while pytop watches, and a new one at its address.
#
# old_func (file "<old>") spins until the runner creates SWITCH; it is then
# freed, and copies of it named new_func (file "<new>", 40 lines further
# down) are made until one lands at the freed object's address (id() is the
# address). The bytecode is the same, so is its length: a profiler that
# trusts what it decoded at that address before reports old_func from then
# on. The outcome (address reused or not, when) goes to REPORT.
#
#     engine_code_reuse.py READY REPORT SWITCH
import gc
import json
import os
import sys
import time
import types

import target_support as ts

SRC = "def template(path):\n    while not os.path.exists(path): pass\n"
GLOBALS = {"os": os}
exec(compile(SRC, "<template>", "exec"), GLOBALS)
TEMPLATE = GLOBALS.pop("template").__code__


def derive(name, filename, firstlineno):
    """A copy of TEMPLATE under another name, file and first line, made
    with as few other allocations as possible in between."""
    c = TEMPLATE
    if hasattr(c, "replace"):   # 3.8+
        kw = dict(co_name=name, co_filename=filename, co_firstlineno=firstlineno)
        if hasattr(c, "co_qualname"):   # 3.11+: what pytop shows
            kw["co_qualname"] = name
        return c.replace(**kw)
    return types.CodeType(c.co_argcount, c.co_nlocals, c.co_stacksize, c.co_flags, c.co_code, c.co_consts,
                          c.co_names, c.co_varnames, filename, name, firstlineno, c.co_lnotab,
                          c.co_freevars, c.co_cellvars)


def main():
    report, switch = sys.argv[2], sys.argv[3]
    ts.expect("MainThread")
    old = types.FunctionType(derive("old_func", "<old>", 1), GLOBALS)
    addr = id(old.__code__)
    ts.arrive("MainThread")
    old(switch)  # @call-old
    del old
    gc.collect()
    t_switch = time.time()
    keep, code = [], None
    for attempt in range(1, 100001):
        code = derive("new_func", "<new>", 41)
        if id(code) == addr:
            break
        keep.append(code)   # held, so the next copy gets other memory
    reused = id(code) == addr
    with open(report + ".tmp", "w") as f:
        json.dump({"reused": reused, "attempts": attempt, "switch": t_switch}, f)
    os.rename(report + ".tmp", report)
    types.FunctionType(code, GLOBALS)(switch + ".never")  # @call-new


if __name__ == "__main__":
    main()  # @call-main
