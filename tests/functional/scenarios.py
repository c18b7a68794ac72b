"""The functional tests: pytop against real interpreters running the
scripts in targets/.

Expected lines come from the "# @marker" comments in the targets, expected
names from the targets' ready reports when the parser decides them; nothing
here hard-codes a line number.
"""
import os
import shutil
import subprocess
import tempfile
import time

from harness import (Frame, TestSkip, TARGETS_DIR, SUPPORT, elf_section_names, kill_group, parse_json,
                     popen, run_pytop)


class Test(object):
    def __init__(self, name, fn, interp=None, skip=None):
        self.name, self.fn, self.interp, self.skip = name, fn, interp, skip


def F(function, file, line):
    return Frame(function, file, line)


# ---- single-threaded stacks -------------------------------------------------

def nested_calls_expected(tgt):
    f, m = tgt.path, tgt.markers
    return [F("level3", f, m["spin"]), F("level2", f, m["call-level3"]),
            F("level1", f, m["call-level2"]), F("main", f, m["call-level1"]),
            F("<module>", f, m["call-main"])]


def check_nested_calls(c, tgt, env_extra=None):
    doc, run = c.dump(tgt, env_extra)
    main = c.thread(doc, run, tgt, "MainThread")
    c.check_stack("MainThread", main, nested_calls_expected(tgt), run, tgt)
    return doc, run


def t_nested_calls(c):
    tgt = c.start("nested_calls.py")
    doc, run = check_nested_calls(c, tgt)
    if len(doc["threads"]) != 1:
        c.fail("%d threads in the dump of a single-threaded target" % len(doc["threads"]), run, tgt)
    want = c.interp.version_str
    if not doc["python"].startswith(want):
        c.fail("\"python\" is %r, want %r" % (doc["python"], want), run, tgt)


def t_text_output(c):
    tgt = c.start("nested_calls.py")
    run = c.pytop_run(["--dump", "-p", str(tgt.pid)])
    if run.timed_out or run.rc != 0 or run.sanitizer_report():
        c.fail("pytop --dump failed", run, tgt)
    lines = run.stdout.splitlines()
    header = [i for i, l in enumerate(lines) if str(tgt.pid) in l and "MainThread" in l]
    if not header:
        c.fail("no header line with the main thread's tid %d and \"MainThread\"" % tgt.pid, run, tgt)
    pos = header[0]
    for fr in nested_calls_expected(tgt):
        want = "%s:%d" % (fr.file, fr.line)
        for i in range(pos + 1, len(lines)):
            if fr.function in lines[i] and want in lines[i]:
                pos = i
                break
        else:
            c.fail("no line with \"%s\" and \"%s\" after line %d (frames must be listed innermost first)"
                   % (fr.function, want, pos + 1), run, tgt)


def t_nested_classes(c):
    tgt = c.start("nested_classes.py")
    doc, run = c.dump(tgt)
    f, m = tgt.path, tgt.markers
    expected = [F(c.function_name("method", "Outer.Inner.method"), f, m["spin"]),
                F("main", f, m["call-method"]), F("<module>", f, m["call-main"])]
    c.check_stack("MainThread", c.thread(doc, run, tgt, "MainThread"), expected, run, tgt)


def t_recursion(c):
    tgt = c.start("recursion.py")
    depth = tgt.report["info"]["depth"]
    doc, run = c.dump(tgt)
    f, m = tgt.path, tgt.markers
    expected = [F("recurse", f, m["spin"])] + [F("recurse", f, m["recurse"])] * (depth - 1) + \
        [F("main", f, m["call-recurse"]), F("<module>", f, m["call-main"])]
    main = c.thread(doc, run, tgt, "MainThread")
    got = main["frames"]
    n = 0
    while n < len(got) and got[n].get("function") == "recurse":
        n += 1
    if n != depth:
        c.fail("%d leading frames of recurse, want %d (depth of the recursion)" % (n, depth), run, tgt)
    c.check_stack("MainThread", main, expected, run, tgt)


def t_generator(c):
    tgt = c.start("generator.py")
    doc, run = c.dump(tgt)
    f, m = tgt.path, tgt.markers
    expected = [F("gen_spin", f, m["spin"]), F("consume", f, m["iterate"]),
                F("main", f, m["call-consume"]), F("<module>", f, m["call-main"])]
    c.check_stack("MainThread", c.thread(doc, run, tgt, "MainThread"), expected, run, tgt)


def t_coroutine(c):
    tgt = c.start("coroutine.py")
    doc, run = c.dump(tgt)
    f, m = tgt.path, tgt.markers
    main = c.thread(doc, run, tgt, "MainThread")
    c.check_stack("MainThread", main, [F("worker", f, m["spin"]), F("main", f, m["await-worker"])],
                  run, tgt, whole=False)
    # Between main() and run() lie asyncio's own frames; the outermost two are ours.
    outer = [F("run", f, m["run-until-complete"]), F("<module>", f, m["call-run"])]
    n = len(main["frames"])
    if n < 4:
        c.fail("only %d frames: want worker, main, asyncio's frames, run, <module>" % n, run, tgt)
    c.check_stack("MainThread", main, outer, run, tgt, offset=n - 2)


def t_exec_string(c):
    tgt = c.start("exec_string.py")
    doc, run = c.dump(tgt)
    f, m = tgt.path, tgt.markers
    base = m["src-begin"]   # line k of the string is line base + k of the file
    expected = [F("generated_spin", "<generated>", m["gen-spin"] - base),
                F("<module>", "<generated>", m["gen-call"] - base),
                F("main", f, m["exec"]), F("<module>", f, m["call-main"])]
    c.check_stack("MainThread", c.thread(doc, run, tgt, "MainThread"), expected, run, tgt)


def t_unicode_names(c):
    tgt = c.start("unicode_names.py")
    fn = tgt.report["info"]["functions"]
    # The target must really have produced non-ASCII names (incl. a non-BMP
    # one) and NFKC-folded the Fraktur one; otherwise this test proves nothing.
    if fn["calc"]["name"] != u"calcul_d\u00e9cimal" or fn["data"]["name"] != u"\u6570\u636e\u5904\u7406" \
            or fn["foo"]["name"] != u"foo" or not any(ord(ch) > 0xFFFF for ch in fn["spin"]["name"]):
        c.fail("target reported unexpected code names: %r" % (fn,), target=tgt)
    doc, run = c.dump(tgt)
    f, m = tgt.path, tgt.markers

    def name(key):
        return c.function_name(fn[key]["name"], fn[key]["qualname"])
    expected = [F(name("spin"), f, m["spin"]), F(name("foo"), f, m["call-spin"]),
                F(name("data"), f, m["call-foo"]), F(name("calc"), f, m["call-data"]),
                F(name("main"), f, m["call-calc"]), F("<module>", f, m["call-main"])]
    c.check_stack("MainThread", c.thread(doc, run, tgt, "MainThread"), expected, run, tgt)


def t_nonascii_path(c):
    d = os.path.join(c.workdir, u"donn\u00e9es")
    os.makedirs(d)
    for name in ("nested_calls.py", SUPPORT):
        shutil.copy(os.path.join(TARGETS_DIR, name), d)
    tgt = c.start(os.path.join(d, "nested_calls.py"))
    check_nested_calls(c, tgt)


# ---- threads ---------------------------------------------------------------

def t_threads(c):
    tgt = c.start("threads.py")
    doc, run = c.dump(tgt)
    f, m = tgt.path, tgt.markers
    keys = ["MainThread", "worker-1", "worker-2", "worker-3"]
    tops = {"MainThread": F("main_wait", f, m["main-wait"]), "worker-1": F("task_alpha", f, m["alpha"]),
            "worker-2": F("task_beta", f, m["beta"]), "worker-3": F("task_gamma", f, m["gamma"])}
    threads = doc["threads"]
    tids = [t["tid"] for t in threads]
    if len(threads) != 4:
        c.fail("%d threads in the dump, want 4: %s" % (len(threads), ", ".join(
            "%s (%s)" % (t["tid"], t["name"]) for t in threads)), run, tgt)
    if len(set(tids)) != len(tids):
        c.fail("thread ids are not distinct: %s" % tids, run, tgt)
    for key in keys:
        t = c.thread(doc, run, tgt, key)
        if t["name"] != key:
            c.fail("thread %d: name %r, want %r" % (t["tid"], t["name"], key), run, tgt)
        c.check_stack(key, t, [tops[key]], run, tgt, whole=False)
    main = c.thread(doc, run, tgt, "MainThread")
    c.check_stack("MainThread", main, [tops["MainThread"], F("main", f, m["call-main-wait"]),
                                       F("<module>", f, m["call-main"])], run, tgt)


def idle_running_threads(c, doc, run, tgt):
    f, m = tgt.path, tgt.markers
    spinner = c.thread(doc, run, tgt, "MainThread")
    c.check_stack("MainThread", spinner, [F("spin_main", f, m["spin"])], run, tgt, whole=False)
    idlers = []
    for key in ("idler-1", "idler-2"):
        t = c.thread(doc, run, tgt, key)
        c.check_stack(key, t, [F("idle_forever", f, m["idle"])], run, tgt, whole=False)
        idlers.append(t)
    return spinner, idlers


def summary(doc):
    return ", ".join("%s %s %s gil=%s" % (t["tid"], t["name"], t["state"], t["gil"]) for t in doc["threads"])


def t_idle_running(c):
    tgt = c.start("idle_running.py")
    seen = []
    for attempt in range(10):
        doc, run = c.dump(tgt)
        spinner, idlers = idle_running_threads(c, doc, run, tgt)
        seen.append(summary(doc))
        for t in idlers:
            if t["state"] != "idle":
                c.fail("dump %d: %s (tid %d) sleeps in time.sleep but is %r" % (attempt + 1, t["name"], t["tid"], t["state"]),
                       run, tgt)
        if spinner["state"] == "running":
            return
        time.sleep(0.1)
    c.fail("the spinning MainThread was never \"running\" in 10 dumps",
           extra=["dump %d: %s" % (i + 1, s) for i, s in enumerate(seen)], run=run, target=tgt)


def t_gil_free_threaded(c, tgt):
    """A free-threaded build has no GIL holder: --dump says so, in JSON and text."""
    doc, run = c.dump(tgt)
    idle_running_threads(c, doc, run, tgt)
    if doc.get("free_threaded") is not True:
        c.fail("\"free_threaded\" is %r on %s, want true" % (doc.get("free_threaded"), c.interp.id), run, tgt)
    if not doc["python"].endswith("t"):
        c.fail("\"python\" is %r, want the free-threaded name (ending in t)" % doc["python"], run, tgt)
    held = [t for t in doc["threads"] if t["gil"] is not None]
    if held:
        c.fail("threads with a GIL value on a free-threaded build: %s" % summary(doc), run, tgt)
    if doc.get("gil_enabled") is not False:
        c.fail("\"gil_enabled\" is %r without PYTHON_GIL=1, want false" % doc.get("gil_enabled"), run, tgt)
    run = c.pytop_run(["--dump", "-p", str(tgt.pid)])
    if run.rc != 0 or "free-threaded: no GIL" not in run.stdout or "holds GIL" in run.stdout:
        c.fail("the text dump does not say \"free-threaded: no GIL\" (or names a holder)", run, tgt)
    # -X gil=1 (PYTHON_GIL=1, which -E ignores) turns the GIL back on: then
    # there is a holder again.
    tgt = c.start("idle_running.py", py_flags=["-X", "gil=1"])
    good, seen = 0, []
    for attempt in range(5):
        doc, run = c.dump(tgt)
        spinner, idlers = idle_running_threads(c, doc, run, tgt)
        seen.append(summary(doc))
        if doc.get("free_threaded") is not True or doc.get("gil_enabled") is not True:
            c.fail("with -X gil=1: \"free_threaded\" %r, \"gil_enabled\" %r, want true and true"
                   % (doc.get("free_threaded"), doc.get("gil_enabled")), run, tgt)
        holders = [t for t in doc["threads"] if t["gil"]]
        if len(holders) > 1 or any(t["gil"] for t in idlers):
            c.fail("with -X gil=1, dump %d: wrong GIL holders: %s" % (attempt + 1, summary(doc)), run, tgt)
        if holders and holders[0]["tid"] == spinner["tid"]:
            good += 1
    if not good:
        c.fail("with -X gil=1 the spinning MainThread never held the GIL in 5 dumps",
               extra=["dump %d: %s" % (i + 1, s) for i, s in enumerate(seen)], run=run, target=tgt)
    run = c.pytop_run(["--dump", "-p", str(tgt.pid)])
    if run.rc != 0 or "the GIL was turned back on" not in run.stdout:
        c.fail("with -X gil=1 the text dump does not say the GIL was turned back on", run, tgt)


def t_gil(c):
    tgt = c.start("idle_running.py")
    if c.interp.free_threaded:
        return t_gil_free_threaded(c, tgt)
    good, seen = 0, []
    for attempt in range(5):
        doc, run = c.dump(tgt)
        spinner, idlers = idle_running_threads(c, doc, run, tgt)
        seen.append(summary(doc))
        if doc.get("free_threaded") is not False:
            c.fail("dump %d: \"free_threaded\" is %r on a build with a GIL" % (attempt + 1, doc.get("free_threaded")),
                   run, tgt)
        holders = [t for t in doc["threads"] if t["gil"]]
        if len(holders) > 1:
            c.fail("dump %d: %d threads hold the GIL: %s" % (attempt + 1, len(holders), summary(doc)), run, tgt)
        for t in idlers:
            if t["gil"]:
                c.fail("dump %d: %s holds the GIL while sleeping: %s" % (attempt + 1, t["name"], summary(doc)), run, tgt)
        if holders and holders[0]["tid"] == spinner["tid"]:
            good += 1
    if not good:
        c.fail("the spinning MainThread never held the GIL in 5 dumps",
               extra=["dump %d: %s" % (i + 1, s) for i, s in enumerate(seen)], run=run, target=tgt)


# ---- builds and layouts ------------------------------------------------------

def t_stripped_libpython(c):
    interp = c.interp
    if not shutil.which("strip"):
        raise TestSkip("strip not installed (binutils)")
    libdir = c.subdir("lib")
    copy = os.path.join(libdir, interp.libpython_soname)
    shutil.copy(interp.libpython, copy)
    p = subprocess.run(["strip", "--strip-all", copy], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        c.fail("strip --strip-all %s failed: %s" % (copy, p.stdout.decode("utf-8", "replace")))
    if ".symtab" in elf_section_names(copy):
        c.fail("%s still has a .symtab after strip --strip-all" % copy)
    tgt = c.start("nested_calls.py", env_extra={"LD_LIBRARY_PATH": libdir})
    with open("/proc/%d/maps" % tgt.pid) as fh:
        mapped = set(l.split()[-1] for l in fh if len(l.split()) >= 6)
    if copy not in mapped:
        c.fail("the stripped copy %s is not mapped by the target (LD_LIBRARY_PATH ignored?); libpython mapped: %s"
               % (copy, sorted(x for x in mapped if "libpython" in x)), target=tgt)
    if interp.libpython in mapped:
        c.fail("the original %s is mapped as well" % interp.libpython, target=tgt)
    check_nested_calls(c, tgt)


def layout_key(doc):
    return sorted((t["tid"], t["name"], [(f["function"], f["file"], f["line"]) for f in t["frames"]])
                  for t in doc["threads"])


def t_layout_source(c):
    tgt = c.start("nested_calls.py")
    docs = {}
    for source in ("table", "debug-offsets"):
        docs[source] = check_nested_calls(c, tgt, {"PYTOP_LAYOUT_SOURCE": source})
    (a, ra), (b, rb) = docs["table"], docs["debug-offsets"]
    if layout_key(a) != layout_key(b):
        c.fail("PYTOP_LAYOUT_SOURCE=table and =debug-offsets give different stacks",
               extra=ra.describe() + rb.describe(), target=tgt)


# ---- errors (once, not per interpreter) ----------------------------------------

def expect_clean_error(c, run, must_contain=(), target=None):
    problems = []
    if run.timed_out:
        problems.append("timed out")
    elif run.rc is None or run.rc < 0:
        problems.append("killed by a signal, want a non-zero exit")
    elif run.rc == 0:
        problems.append("exit 0, want non-zero")
    if run.sanitizer_report():
        problems.append("sanitizer report on stderr")
    lines = [l for l in run.stderr.splitlines() if l.strip()]
    if len(lines) != 1:
        problems.append("%d lines on stderr, want exactly one" % len(lines))
    for s in must_contain:
        if s.lower() not in run.stderr.lower():
            problems.append("stderr does not mention %r" % s)
    if problems:
        c.fail("; ".join(problems), run, target)


def t_error_nonexistent_pid(c):
    p = subprocess.Popen(["true"])
    p.wait()
    pid = p.pid   # reaped: nothing has this pid unless it was reused
    if os.path.exists("/proc/%d" % pid):
        raise TestSkip("could not find an unused pid")
    expect_clean_error(c, c.pytop_run(["--dump", "-p", str(pid)]))


def t_error_not_python(c):
    p = popen(["sleep", "100"])
    try:
        time.sleep(0.1)   # let exec finish so the pid is really sleep
        expect_clean_error(c, c.pytop_run(["--dump", "-p", str(p.pid)]), ["not a Python process"])
    finally:
        kill_group(p)


def _patch_version(src, dst, hexversion):
    """Copy the static interpreter src to dst with Py_Version and the
    version in _PyRuntime's _Py_DebugOffsets set to hexversion: a CPython
    newer than pytop, as far as an outside reader can tell."""
    import re
    import struct
    data = bytearray(open(src, "rb").read())
    syms = {}
    for line in subprocess.check_output(["nm", "-D", src]).decode().splitlines():
        f = line.split()
        if len(f) == 3:
            syms[f[2]] = int(f[0], 16)
    sections = []
    for m in re.finditer(r"\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)",
                         subprocess.check_output(["readelf", "-SW", src]).decode()):
        if m.group(2) != "NOBITS":
            sections.append((int(m.group(3), 16), int(m.group(4), 16), int(m.group(5), 16)))

    def at(vaddr):
        for addr, off, size in sections:
            if addr <= vaddr < addr + size:
                return off + vaddr - addr
        raise TestSkip("%s: no file bytes at %#x" % (src, vaddr))

    if "Py_Version" not in syms or "_PyRuntime" not in syms:
        raise TestSkip("%s exports no Py_Version or _PyRuntime" % src)
    struct.pack_into("<I", data, at(syms["Py_Version"]), hexversion)
    struct.pack_into("<Q", data, at(syms["_PyRuntime"] + 8), hexversion)
    with open(dst, "wb") as f:
        f.write(data)
    os.chmod(dst, 0o755)


def t_error_newer_python(c):
    """A CPython newer than pytop's tables is named, and said to be newer."""
    exe = os.path.join(c.workdir, "python3.99")
    _patch_version(c.interp.realpath, exe, 0x036300a0)
    argv = c.interp.command(["-c", "import time; time.sleep(60)"])
    argv[argv.index(c.interp.exe)] = c.inside(exe)
    p = popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while time.time() < deadline and not os.path.exists("/proc/%d/task" % p.pid):
            time.sleep(0.05)
        time.sleep(0.5)   # let the interpreter start
        # The chroot wrapper execs the interpreter: p.pid is it.
        run = c.pytop_run(["--dump", "-p", str(p.pid)])
        expect_clean_error(c, run, ["CPython 3.99.0", "predates"])
    finally:
        kill_group(p)


def t_error_malformed_pid(c):
    expect_clean_error(c, c.pytop_run(["--dump", "-p", "abc"]))


def t_error_unknown_option(c):
    expect_clean_error(c, c.pytop_run(["--dump", "--no-such-option", "-p", "1"]))


def t_error_permission(c):
    if os.geteuid() != 0:
        raise TestSkip("not running as root: cannot run pytop as another user against a root-owned target")
    setpriv = shutil.which("setpriv")
    if not setpriv:
        raise TestSkip("setpriv not installed (util-linux): cannot drop privileges")
    # A copy nobody can reach and execute: neither the build directory nor
    # our 0700 scratch directory may be.
    bindir = tempfile.mkdtemp(prefix="pytop-nobody-")
    try:
        os.chmod(bindir, 0o755)
        exe = os.path.join(bindir, "pytop")
        shutil.copy(c.pytop, exe)
        os.chmod(exe, 0o755)
        tgt = c.start("nested_calls.py", interp=c.suite.interps[-1])
        run = run_pytop(exe, ["--dump", "-p", str(tgt.pid)],
                        prefix=[setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"])
    finally:
        shutil.rmtree(bindir, ignore_errors=True)
    # Yama's sysctl is advice only on a kernel that has Yama.
    yama = os.path.exists("/proc/sys/kernel/yama/ptrace_scope")
    expect_clean_error(c, run, ["CAP_SYS_PTRACE"] + (["ptrace_scope"] if yama else []), target=tgt)
    if not yama and "ptrace_scope" in run.stderr:
        c.fail("the kernel has no Yama, yet the message advises kernel.yama.ptrace_scope", run, tgt)
    if "run pytop as root" not in run.stderr:
        c.fail("a non-root pytop is not told to run as root", run, tgt)


def t_error_target_exits(c):
    interps = c.suite.interps
    script = os.path.join(TARGETS_DIR, "exits_soon.py")
    for i in range(6):
        interp = interps[i % len(interps)]
        args = ["--dump", "--json", "-p"] if i % 2 else ["--dump", "-p"]
        p = popen(interp.command(["-E", "-s", "-B", interp.stage(script), "0.05"]), stdout=subprocess.PIPE,
                  stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            line = p.stdout.readline()
            if b"READY" not in line:
                c.fail("exits_soon.py under %s did not report READY (got %r)" % (interp.id, line))
            run = c.pytop_run(args + [str(p.pid)], timeout=10)
        finally:
            kill_group(p)
            p.stdout.close()
        what = "run %d (%s, %s)" % (i + 1, interp.id, " ".join(args))
        if run.timed_out:
            c.fail("%s: pytop did not finish within 10 s" % what, run)
        if run.rc < 0:
            c.fail("%s: pytop was killed by a signal" % what, run)
        if run.sanitizer_report():
            c.fail("%s: sanitizer report" % what, run)
        if run.rc != 0 and not run.stderr.strip():
            c.fail("%s: non-zero exit without a message" % what, run)
        if run.rc == 0 and "--json" in args:
            parse_json(run)


# ---- the list ------------------------------------------------------------------

PER_INTERPRETER = [
    ("nested_calls", t_nested_calls),
    ("text_output", t_text_output),
    ("nested_classes", t_nested_classes),
    ("recursion", t_recursion),
    ("threads", t_threads),
    ("idle_running", t_idle_running),
    ("gil", t_gil),
    ("generator", t_generator),
    ("coroutine", t_coroutine),
    ("exec_string", t_exec_string),
    ("unicode_names", t_unicode_names),
    ("nonascii_path", t_nonascii_path),
    ("stripped_libpython", t_stripped_libpython),
    ("layout_source", t_layout_source),
]

ERRORS = [
    ("error_nonexistent_pid", t_error_nonexistent_pid),
    ("error_not_python", t_error_not_python),
    ("error_malformed_pid", t_error_malformed_pid),
    ("error_unknown_option", t_error_unknown_option),
    ("error_permission_denied", t_error_permission),
    ("error_target_exits", t_error_target_exits),
]


def applicability(name, interp):
    """None if the scenario runs on interp, else (emit_skip, reason)."""
    two = interp.version[0] == 2
    if name == "coroutine" and (two or not interp.at_least(3, 6)):
        return True, "asyncio coroutines need Python 3.6+"
    if name == "unicode_names" and two:
        return True, "identifiers are ASCII-only in Python 2.7"
    if name == "stripped_libpython" and interp.static:
        try:
            has_symtab = ".symtab" in elf_section_names(interp.realpath)
        except (OSError, ValueError):
            has_symtab = None
        if has_symtab is False:
            return True, ("static build, no libpython to strip; the interpreter binary already has "
                          "no .symtab, so the other tests here cover a stripped interpreter")
        return True, "static build with a .symtab: stripping a copy of the executable is not done here"
    if name == "layout_source" and not interp.at_least(3, 13):
        return False, None   # the variable only exists for 3.13+; nothing to skip
    return None


def build(interps):
    tests = []
    for name, fn in PER_INTERPRETER:
        for interp in interps:
            a = applicability(name, interp)
            test_name = "%s[%s]" % (name, interp.id)
            if a is None:
                tests.append(Test(test_name, fn, interp))
            elif a[0]:
                tests.append(Test(test_name, fn, interp, skip=a[1]))
        if name == "layout_source" and not any(i.at_least(3, 13) for i in interps):
            tests.append(Test("layout_source[3.13]", fn, skip="no Python 3.13+ interpreter found"))
    # A static 3.13+ build (Py_Version and _PyRuntime in one file) made to
    # say it is 3.99.
    cands = [i for i in interps if i.static and i.at_least(3, 13) and "t" not in i.abiflags]
    if cands:
        newest = max(cands, key=lambda i: i.version)
        tests.append(Test("error_newer_python[%s]" % newest.id, t_error_newer_python, newest))
    else:
        tests.append(Test("error_newer_python", None,
                          skip="no static CPython 3.13+ found to present as a newer version"))
    for name, fn in ERRORS:
        if name in ("error_permission_denied", "error_target_exits") and not interps:
            tests.append(Test(name, fn, skip="no Python interpreter found"))
        else:
            tests.append(Test(name, fn))
    import engine   # --record and --export (engine.py); imports Test from here
    tests.extend(engine.build(interps))
    import processes   # memory credited to code, --subprocesses (processes.py)
    tests.extend(processes.build(interps))
    import native   # --native: C frames merged with Python frames (native.py)
    tests.extend(native.build(interps))
    import blocking   # --blocking: threads held while read (blocking.py)
    tests.extend(blocking.build(interps))
    import memory_counters   # the "counters" object of --dump --json (memory_counters.py)
    tests.extend(memory_counters.build(interps))
    import cli   # subcommands, file names, refusals, launch ending, messages (cli.py)
    tests.extend(cli.build(interps))
    import timing   # sampling instants and CPU credit (timing.py)
    tests.extend(timing.build(interps))
    import exports_timeline   # gecko, chrometrace, annotate, heatmap, --baseline
    tests.extend(exports_timeline.build(interps))
    import containers   # a target in another PID namespace (containers.py)
    tests.extend(containers.build(interps))
    import signals   # how pytop ends: signals in every mode, SIGKILL (signals.py)
    tests.extend(signals.build(interps))
    import gil_gc   # <GC> frames, GIL waiting, --mode gil (gil_gc.py)
    tests.extend(gil_gc.build(interps))
    import stacks   # whole stacks: torn, deep and stale ones (stacks.py)
    tests.extend(stacks.build(interps))
    import scale   # 1,000 threads, bounded dictionary, exec (scale.py)
    tests.extend(scale.build(interps))
    import async_tasks   # --async: asyncio tasks (async_tasks.py)
    tests.extend(async_tasks.build(interps))
    return tests
