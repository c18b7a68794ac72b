"""Functional tests of pytop's command line as py-spy and CPython's sampler
users type it: subcommands and their options, the file a name asks for,
files pytop refuses to write, damaged recordings, launch mode ending, and
the messages that say what to do. Each test runs once, on the newest
interpreter found (the command line does not depend on the version).
"""
import gzip
import json
import marshal
import os
import pty
import re
import select
import signal
import stat
import subprocess
import time

from harness import PY_FLAGS, PytopRun, TARGETS_DIR, TestSkip, kill_group, popen
from scenarios import Test
import engine
from engine import Recorder, expect_error, parse_folded, read_header, summary_of, wait_for_file


def newest(c):
    """The newest interpreter that runs here directly (not in a root): the
    launch tests start it by its path."""
    direct = [i for i in c.suite.interps if not i.root]
    return direct[-1] if direct else c.suite.interps[-1]


def one_line_error(c, args, words, rc=2, what=None, cwd=None):
    run = c.pytop_run(args, timeout=20, cwd=cwd)
    problems = expect_error(run, rc, words)
    if problems:
        c.fail("pytop %s: %s" % (what or " ".join(args), "; ".join(problems)), run)
    return run


def functions(stacks):
    """Total weight per leaf-most function name found anywhere in a stack."""
    out = {}
    for s in stacks:
        for name in set(f[0] for f in s.frames):
            out[name] = out.get(name, 0) + s.weight
    return out


# ---- 1. subcommands and options ----------------------------------------------------

def t_help(c):
    expect = {
        None: ["record", "dump", "export", "replay", "--sampling-rate", "--idle", "--gil"],
        "top": ["-p, --pid", "-r, --rate", "-i, --idle"],
        "record": ["-o, --output", ".speedscope.json", "callgrind.out.*", "--keep-recording",
                   "-d, --duration", "-s, --subprocesses", "-g, --gil", "--nonblocking"],
        "dump": ["--json", "-n, --native"],
        "export": ["-f, --format", "Exit status", "3"],
        "replay": ["--speed"],
    }
    for sub, words in expect.items():
        args = ([sub] if sub else []) + ["--help"]
        run = c.pytop_run(args, timeout=10)
        if run.rc != 0 or run.stderr.strip():
            c.fail("pytop %s: exit %s, want 0 and nothing on stderr" % (" ".join(args), run.rc), run)
        want = "usage: pytop %s" % sub if sub else "usage: pytop"
        if not run.stdout.startswith(want):
            c.fail("pytop %s does not start with %r" % (" ".join(args), want), run)
        missing = [w for w in words if w not in run.stdout]
        if missing:
            c.fail("pytop %s does not mention %s" % (" ".join(args), missing), run)


def t_version(c):
    """One version string: --version, the man page, the files pytop writes."""
    run = c.pytop_run(["--version"], timeout=10)
    first = run.stdout.splitlines()[0] if run.stdout else ""
    if run.rc != 0 or not first.startswith("pytop "):
        c.fail("pytop --version: want 'pytop VERSION' first", run)
    version = first.split()[1]
    man = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "pytop.1")
    with open(man) as f:
        th = f.readline()
    if '"pytop %s"' % version not in th:
        c.fail("the man page says %r, pytop --version says %s" % (th.strip(), version), run)
    with open(man) as f:
        text = f.read()
    for section in (".SH EXAMPLES", ".SH SEE ALSO", "py\\-spy", "flamegraph.pl", "speedscope",
                    "kcachegrind", "pprof"):
        if section not in text:
            c.fail("the man page lacks %s" % section)
    others = set(re.findall(r"\bpytop (\d+\.\d+\.\d+)\b", text)) - {version}
    if others:
        c.fail("the man page names other versions of pytop: %s" % sorted(others))
    return "pytop %s everywhere" % version


def t_subcommands(c):
    """record with py-spy's short options and 3.15's units, then export,
    dump and the old long forms, against one running target."""
    tgt = c.start("idle_running.py", interp=newest(c))
    out = os.path.join(c.workdir, "a.pytop")
    # --nonblocking is the default, said out loud.
    run = c.pytop_run(["record", "-r", "250hz", "-d", "800ms", "--nonblocking", "-o", out, "-p", str(tgt.pid)],
                      timeout=30)
    if run.rc != 0 or run.sanitizer_report():
        c.fail("pytop record -r 250hz -d 800ms failed", run, tgt)
    s = summary_of(c, run, out, tgt)
    if float(s["rate"]) != 250:
        c.fail("-r 250hz asked for %s Hz" % s["rate"], run, tgt)
    if not 0.7 <= float(s["seconds"]) <= 2.0:
        c.fail("-d 800ms recorded %s s" % s["seconds"], run, tgt)
    if "pytop replay %s" % out not in run.stderr:
        c.fail("the summary does not say how to look at the recording", run, tgt)
    # 3.15's long spelling, a rate in kHz, a duration in seconds with a unit.
    out2 = os.path.join(c.workdir, "b.pytop")
    run = c.pytop_run(["record", "--sampling-rate", "1khz", "--duration", "1s", "-o", out2,
                       "-p", str(tgt.pid)], timeout=30)
    if run.rc != 0:
        c.fail("pytop record --sampling-rate 1khz --duration 1s failed", run, tgt)
    if float(summary_of(c, run, out2, tgt)["rate"]) != 1000:
        c.fail("--sampling-rate 1khz did not ask for 1000 Hz", run, tgt)
    # export takes the recording as a word, the format from -o's name.
    svg = os.path.join(c.workdir, "a.svg")
    run = c.pytop_run(["export", out, "-o", svg], timeout=30)
    if run.rc != 0 or not open(svg, "rb").read(200).lstrip().startswith(b"<?xml"):
        c.fail("pytop export REC -o a.svg did not write an SVG", run, tgt)
    # The old long forms still work.
    run = c.pytop_run(["--export", out, "--format", "folded"], timeout=30)
    if run.rc != 0 or "spin_main" not in run.stdout:
        c.fail("pytop --export REC --format folded failed", run, tgt)
    for args in (["dump", "-p", str(tgt.pid)], ["--dump", "-p", str(tgt.pid)]):
        run = c.pytop_run(args, timeout=20)
        if run.rc != 0 or "spin_main" not in run.stdout:
            c.fail("pytop %s failed" % " ".join(args), run, tgt)
    run = c.pytop_run(["dump", "--json", "-p", str(tgt.pid)], timeout=20)
    if run.rc != 0:
        c.fail("pytop dump --json failed", run, tgt)
    json.loads(run.stdout)


def t_option_errors(c):
    rec = os.path.join(c.workdir, "never.pytop")
    cases = [
        # The letters py-spy gives other meanings, as old habits type them.
        (["-r", rec, "-p", "1"], ["-r is the sampling rate", "pytop record -o"]),
        (["-d", "-p", "1"], ["-d is the duration", "pytop dump"]),
        (["record", "-m", "mymodule", "-o", rec, "-p", "1"], ["python3 -m mymodule"]),
        (["record", "-o", rec, "-r", "fast", "-p", "1"], ["1khz"]),
        (["record", "-o", rec, "-d", "3 parsecs", "-p", "1"], ["500ms"]),
        (["-p", "1", "-p", "2"], ["-p once"]),
        (["dump", "--native-all", "-p", "1"], ["--native --native-all"]),
        (["record", "-o", os.path.join(c.workdir, "x.json"), "-p", "1"], [".speedscope.json"]),
        (["record", "-o", rec, "--keep-recording", "-p", "1"], ["--keep-recording"]),
        (["record", "-o", rec, "--idle", "--mode", "cpu", "-p", "1"], ["--idle", "--mode cpu"]),
        (["dump", "--gil", "-p", "1"], ["--gil"]),
        (["record", "-p", "1"], ["record -o FILE"]),
        (["export"], ["export RECORDING"]),
        (["replay"], ["replay RECORDING"]),
        (["record", "-o", rec, "--record", rec, "-p", "1"], ["once"]),
    ]
    for args, words in cases:
        run = c.pytop_run(args, timeout=10)
        problems = expect_error(run, 2, words)
        if os.path.exists(rec):
            problems.append("created %s although the command line was refused" % rec)
        if problems:
            c.fail("pytop %s: %s" % (" ".join(args), "; ".join(problems)), run)


# ---- 2. record -o FILE: the format its name asks for -----------------------------------

def check_svg(data):
    return b"<svg" in data[:400]


def check_speedscope(data):
    return "speedscope" in json.loads(data.decode()).get("$schema", "")


def check_folded(data):
    return all(l.rsplit(b" ", 1)[1].isdigit() for l in data.splitlines() if l.strip()) and bool(data.strip())


def check_pstats(data):
    return isinstance(marshal.loads(data), dict)


def check_callgrind(data):
    return b"events:" in data


def check_pprof(data):
    return len(gzip.decompress(data)) > 0


def check_recording(data):
    return data[:8] == b"PYTOPREC"


RECORD_NAMES = [
    ("flame.svg", check_svg),
    ("p.speedscope.json", check_speedscope),
    ("p.folded", check_folded),
    ("p.txt", check_folded),
    ("p.pstats", check_pstats),
    ("p.prof", check_pstats),
    ("callgrind.out.1234", check_callgrind),
    ("p.pb.gz", check_pprof),
    ("p.pytop", check_recording),
    ("p.anything", check_recording),
]


def t_record_formats(c):
    tgt = c.start("idle_running.py", interp=newest(c))
    for name, check in RECORD_NAMES:
        out = os.path.join(c.workdir, name)
        run = c.pytop_run(["record", "-d", "0.3s", "-o", out, "-p", str(tgt.pid)], timeout=30)
        if run.rc != 0 or run.sanitizer_report():
            c.fail("pytop record -o %s failed" % name, run, tgt)
        with open(out, "rb") as f:
            data = f.read()
        try:
            ok = check(data)
        except Exception as e:   # a consumer's parser refusing it
            ok, why = False, str(e)
        else:
            why = ""
        if not ok:
            c.fail("pytop record -o %s did not write what the name asks for %s" % (name, why), run, tgt)
        left = [f for f in os.listdir(c.workdir) if ".tmp-" in f or f.startswith(".pytop-recording")]
        if left:
            c.fail("temporary files left behind: %s" % left, run, tgt)
    # --format overrides the name; --keep-recording keeps the recording beside it.
    out = os.path.join(c.workdir, "forced.svg")
    run = c.pytop_run(["record", "-d", "0.3s", "-f", "folded", "--keep-recording", "-o", out,
                       "-p", str(tgt.pid)], timeout=30)
    if run.rc != 0:
        c.fail("pytop record -f folded --keep-recording failed", run, tgt)
    if not check_folded(open(out, "rb").read()):
        c.fail("-f folded -o forced.svg did not write folded stacks", run, tgt)
    kept = os.path.join(c.workdir, "forced.pytop")
    if not os.path.exists(kept) or not check_recording(open(kept, "rb").read(16)):
        c.fail("--keep-recording did not leave forced.pytop beside forced.svg", run, tgt)
    if kept not in run.stderr:
        c.fail("pytop does not say where the kept recording is", run, tgt)
    # The recording exports to the same profile (pytop export on it).
    run2 = c.pytop_run(["export", kept, "-f", "folded"], timeout=30)
    if run2.rc != 0 or sorted(run2.raw_stdout.splitlines()) != sorted(open(out, "rb").read().splitlines()):
        c.fail("exporting the kept recording does not give the profile record wrote", run2, tgt)
    return "%d names, each the format it asks for" % len(RECORD_NAMES)


# ---- units -----------------------------------------------------------------------------

def t_units(c):
    tgt = c.start("idle_running.py", interp=newest(c))
    rec = os.path.join(c.workdir, "u.pytop")
    run = c.pytop_run(["record", "-d", "1s", "-o", rec, "-p", str(tgt.pid)], timeout=30)
    if run.rc != 0:
        c.fail("pytop record failed", run, tgt)
    secs = float(summary_of(c, run, rec, tgt)["seconds"])
    details = []
    # callgrind: the mode's weight is the first event, so tools sort by it.
    for mode, event in (("cpu", "CpuNs"), ("wall", "WallNs")):
        run = c.pytop_run(["export", rec, "-f", "callgrind", "--mode", mode], timeout=30)
        events = [l for l in run.stdout.splitlines() if l.startswith("events:")]
        if run.rc != 0 or events != ["events: %s Samples" % event]:
            c.fail("callgrind --mode %s: events line %r, want 'events: %s Samples'" % (mode, events, event), run, tgt)
    # folded: whole microseconds. Three threads for the length of the recording.
    run = c.pytop_run(["export", rec, "-f", "folded", "--mode", "wall"], timeout=30)
    total = sum(s.weight for s in parse_folded(c, run.raw_stdout, "folded wall", run, tgt))
    if not 0.7 * 3 * secs * 1e6 <= total <= 1.3 * 3 * secs * 1e6:
        c.fail("folded wall weights add up to %d for 3 threads over %.2f s: not microseconds" % (total, secs), run, tgt)
    details.append("folded wall total %.2f s for 3 threads x %.2f s" % (total / 1e6, secs))
    # pstats would call bytes seconds: refused.
    one_line_error(c, ["export", rec, "-o", os.path.join(c.workdir, "m.pstats"), "--mode", "memory"],
                   ["pstats", "seconds"])
    # Memory in human units where a person reads it.
    mt = c.start("memory_grow_release.py", interp=newest(c))
    svg = os.path.join(c.workdir, "m.svg")
    run = c.pytop_run(["record", "-d", "1.5s", "--mode", "memory", "-o", svg, "-p", str(mt.pid)], timeout=30)
    data = open(svg, encoding="utf-8").read() if run.rc == 0 else ""
    if run.rc != 0 or "MiB = " not in data or "resident memory growth" not in data:
        c.fail("record --mode memory -o m.svg: want growth in MiB with its bytes, named resident memory growth",
               run, mt)
    if "seconds" in data.split("<script", 1)[0] and " s of " in data:
        c.fail("the memory flame graph labels bytes as seconds", run, mt)
    return "; ".join(details)


# ---- --idle and --gil -------------------------------------------------------------

def t_idle_gil(c):
    # --gil keeps GIL holders: a free-threaded build has none.
    with_gil = [i for i in c.suite.interps if not i.free_threaded]
    if not with_gil:
        raise TestSkip("no interpreter with a GIL among those found or selected (%s): --gil keeps "
                       "nothing on a free-threaded build"
                       % ", ".join(i.id for i in c.suite.interps))
    tgt = c.start("idle_running.py", interp=with_gil[-1])
    got = {}
    for label, extra in (("cpu", []), ("idle", ["--idle"]), ("gil", ["--idle", "--gil"])):
        out = os.path.join(c.workdir, "%s.folded" % label)
        args = ["record", "-d", "1s", "-o", out] + extra + ["-p", str(tgt.pid)]
        if label == "gil":
            args[5:5] = ["--keep-recording"]
        run = c.pytop_run(args, timeout=30)
        if run.rc != 0:
            c.fail("pytop %s failed" % " ".join(args), run, tgt)
        got[label] = functions(parse_folded(c, open(out, "rb").read(), out, run, tgt))
    def share(label, fn):
        total = float(sum(w for f, w in got[label].items() if f in ("spin_main", "idle_forever")))
        return got[label].get(fn, 0) / total if total else 0.0
    detail = "idle_forever: %.0f %% of CPU, %.0f %% with --idle, %.0f %% with --idle --gil" % (
        100 * share("cpu", "idle_forever"), 100 * share("idle", "idle_forever"),
        100 * share("gil", "idle_forever"))
    # Two sleeping threads and one spinning: waiting is 2/3 of wall time.
    if share("idle", "idle_forever") < 0.5:
        c.fail("--idle does not count the two sleeping threads (%s)" % detail, target=tgt)
    if share("cpu", "idle_forever") > 0.1:
        c.fail("without --idle the sleeping threads weigh (%s)" % detail, target=tgt)
    if got["gil"].get("idle_forever", 0) or not got["gil"].get("spin_main"):
        c.fail("--gil kept threads that never hold the GIL, or lost the one that does (%s)" % detail,
               target=tgt)
    # export --gil of an unfiltered recording filters the same way.
    rec = os.path.join(c.workdir, "all.pytop")
    run = c.pytop_run(["record", "-d", "0.5s", "-o", rec, "-p", str(tgt.pid)], timeout=30)
    run = c.pytop_run(["export", rec, "-f", "folded", "--mode", "wall", "--gil"], timeout=30)
    fns = functions(parse_folded(c, run.raw_stdout, "export --gil", run, tgt))
    if run.rc != 0 or fns.get("idle_forever") or not fns.get("spin_main"):
        c.fail("pytop export --gil kept a sleeping thread or lost the spinning one (%s)" % fns, run, tgt)
    return detail


# ---- 3. files -------------------------------------------------------------------------

def small_recording(c, tgt, name="r.pytop", seconds="0.5s"):
    rec = os.path.join(c.workdir, name)
    run = c.pytop_run(["record", "-d", seconds, "-o", rec, "-p", str(tgt.pid)], timeout=30)
    if run.rc != 0:
        c.fail("pytop record failed", run, tgt)
    return rec


def t_output_files(c):
    tgt = c.start("idle_running.py", interp=newest(c))
    rec = small_recording(c, tgt)
    before = open(rec, "rb").read()
    fifo = os.path.join(c.workdir, "fifo")
    os.mkfifo(fifo)
    victim = os.path.join(c.workdir, "victim.txt")
    with open(victim, "w") as f:
        f.write("keep me\n")
    link = os.path.join(c.workdir, "link.svg")
    os.symlink(victim, link)
    cases = [
        ("/dev/null", ["/dev/null", "character device", "regular"]),
        (fifo, [fifo, "FIFO"]),
        (link, [link, "symbolic link"]),
        (c.workdir, [c.workdir, "directory"]),
        (rec, [rec, "recording being read"]),
        ("/nonexistent/dir/x.svg", ["/nonexistent/dir/x.svg", "no directory"]),
    ]
    for out, words in cases:
        run = c.pytop_run(["export", rec, "-f", "svg", "-o", out], timeout=20)
        problems = expect_error(run, 1, words)
        if problems:
            c.fail("export -o %s: %s" % (out, "; ".join(problems)), run, tgt)
    if not os.path.islink(link) or open(victim).read() != "keep me\n":
        c.fail("the symbolic link or the file it points to was changed")
    if not stat.S_ISFIFO(os.lstat(fifo).st_mode):
        c.fail("the FIFO was replaced")
    if open(rec, "rb").read() != before:
        c.fail("the recording was changed by export -o onto itself")
    # record refuses them before sampling: nothing runs, nothing is replaced.
    for out in (fifo, link):
        run = c.pytop_run(["record", "-d", "0.3s", "-o", out, "-p", str(tgt.pid)], timeout=20)
        problems = expect_error(run, 1, [out])
        if problems:
            c.fail("record -o %s: %s" % (out, "; ".join(problems)), run, tgt)
    if not os.path.islink(link) or open(victim).read() != "keep me\n":
        c.fail("record -o LINK changed the link or the file it points to")
    # A new file gets the umask's mode, like any file; nothing temporary stays.
    out = os.path.join(c.workdir, "new.svg")
    run = c.pytop_run(["export", rec, "-o", out], timeout=20)
    mode = stat.S_IMODE(os.stat(out).st_mode)
    old = os.umask(0)
    os.umask(old)
    if run.rc != 0 or mode != 0o666 & ~old:
        c.fail("export -o new.svg: exit %s, mode %o, want 0 and %o" % (run.rc, mode, 0o666 & ~old), run)
    left = [f for f in os.listdir(c.workdir) if ".tmp-" in f]
    if left:
        c.fail("temporary files left behind: %s" % left, run)


def uvarint(data, pos):
    """(value, position after it) of the unsigned LEB128 number at pos."""
    value, shift = 0, 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def header_end(data):
    """(position, length) of a recording's metadata: records start after it
    (docs/recording.md: 12 bytes of magic and version, then its length)."""
    meta_len, pos = uvarint(data, 12)
    return pos, meta_len


def record_end(data, pos):
    """Where the record at pos ends: a type byte, a length, the payload."""
    plen, pos = uvarint(data, pos + 1)
    return pos + plen


def t_damaged_recording(c):
    tgt = c.start("idle_running.py", interp=newest(c))
    rec = small_recording(c, tgt, seconds="1s")
    data = open(rec, "rb").read()
    details = []
    # Cut short (a recorder killed): exported with a note, exit 0.
    cut = os.path.join(c.workdir, "cut.pytop")
    with open(cut, "wb") as f:
        f.write(data[:len(data) // 2])
    out = os.path.join(c.workdir, "cut.folded")
    run = c.pytop_run(["export", cut, "-o", out], timeout=20)
    if run.rc != 0 or "ends early" not in run.stderr or not os.path.getsize(out):
        c.fail("a recording cut in half: want exit 0, a profile, and a note that it ends early", run)
    details.append(run.stderr.strip())
    # Damaged in the middle: what reads back, exit 3, never "not a recording".
    # The record found at the middle becomes a string record with an empty
    # payload, which cannot hold its id: damage no reader can take for a
    # later version's record or for a file cut short (random bytes there
    # can be either).
    pos, meta_len = header_end(data)
    middle = pos + meta_len
    while middle < len(data) // 2:
        middle = record_end(data, middle)
    bad = bytearray(data)
    bad[middle] = 1
    bad[middle + 1] = 0
    dmg = os.path.join(c.workdir, "damaged.pytop")
    with open(dmg, "wb") as f:
        f.write(bad)
    out = os.path.join(c.workdir, "damaged.folded")
    run = c.pytop_run(["export", dmg, "-o", out], timeout=20)
    if "not a pytop recording" in run.stderr:
        c.fail("a recording with a good header and a damaged body is called not a recording", run)
    if run.rc != 3 or "damaged" not in run.stderr or not os.path.exists(out):
        c.fail("a damaged recording: want exit 3, a profile of what reads back, and 'damaged' on stderr "
               "(got exit %s)" % run.rc, run)
    if dmg not in run.stderr:
        c.fail("the message does not name the damaged file", run)
    details.append(run.stderr.strip())
    # Damaged right after a good header: a recording still, with nothing to show.
    # The first record becomes a string record with an empty payload, which
    # cannot hold its id: damage no reader can take for a later version's
    # record or for a file cut short (random bytes there can be either).
    early = bytearray(data)
    early[pos + meta_len] = 1
    early[pos + meta_len + 1] = 0
    path = os.path.join(c.workdir, "early.pytop")
    with open(path, "wb") as f:
        f.write(early)
    for args in (["export", path, "-f", "folded"], ["replay", path]):
        run = c.pytop_run(args, timeout=20)
        problems = expect_error(run, 1, ["damaged before its first sample"])
        if "not a pytop recording" in run.stderr:
            problems.append("calls a recording with a good header not a recording")
        if problems:
            c.fail("pytop %s of a recording damaged after its header: %s" % (args[0], "; ".join(problems)), run)
    return " / ".join(details)


# ---- launch mode --------------------------------------------------------------------

def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def gone(pid, timeout):
    """True once pid has exited (gone, or a zombie nobody reaps)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc_state(pid) in (None, "Z", "X"):
            return True
        time.sleep(0.05)
    return False


def child_of(pid, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        if kids:
            return kids[0]
        time.sleep(0.05)
    return None


def t_launch_duration(c):
    script = os.path.join(TARGETS_DIR, "engine_spin.py")
    py = newest(c).path
    rec = os.path.join(c.workdir, "d.pytop")
    ready = os.path.join(c.workdir, "ready.json")
    run = c.pytop_run(["record", "-d", "1s", "-o", rec, "--", py] + PY_FLAGS + [script, ready], timeout=30)
    if run.rc != 0:
        c.fail("pytop record -d 1s -- PROGRAM: exit %s, want 0 (pytop ended it as documented)" % run.rc, run)
    if "--duration is over" not in run.stderr or "SIGINT" not in run.stderr:
        c.fail("pytop does not say that --duration ended the program, and how", run)
    if run.duration > 8:
        c.fail("pytop took %.1f s to end a program at --duration 1s" % run.duration, run)
    # Not Python at all: --duration still ends the wait.
    run = c.pytop_run(["record", "-d", "0.5s", "-o", rec, "--", "sleep", "30"], timeout=30)
    problems = expect_error(run, 1, ["--duration", "sleep"])
    if problems or run.duration > 6:
        c.fail("record -d 0.5s -- sleep 30: %s (took %.1f s)" % ("; ".join(problems), run.duration), run)
    return "ended after %.1f s" % run.duration


def t_launch_dies_with_pytop(c):
    script = os.path.join(TARGETS_DIR, "engine_spin.py")
    py = newest(c).path
    details = []
    for sig in (signal.SIGKILL, signal.SIGHUP, signal.SIGTERM):
        rec = os.path.join(c.workdir, "k%d.pytop" % sig)
        ready = os.path.join(c.workdir, "ready%d.json" % sig)
        r = Recorder(c, ["record", "-o", rec, "--", py] + PY_FLAGS + [script, ready])
        try:
            if not wait_for_file(ready, r.proc):
                c.fail("the launched program never became ready", r.wait(1))
            child = child_of(r.proc.pid)
            if child is None:
                c.fail("pytop has no child process", r.wait(1))
            time.sleep(0.5)
            t0 = time.time()
            r.proc.send_signal(sig)
            run = r.wait(15)
            ended = gone(child, 5)
        finally:
            kill_group(r.proc)
        name = signal.Signals(sig).name
        if not ended:
            os.kill(child, signal.SIGKILL)
            c.fail("the program pytop launched still runs after pytop got %s" % name, run)
        if sig != signal.SIGKILL and (run.rc != 0 or "recorded" not in run.stderr):
            c.fail("pytop ended by %s: want exit 0 and its summary" % name, run)
        details.append("%s: program ended within %.1f s" % (name, time.time() - t0))
    return "; ".join(details)


# ---- messages -----------------------------------------------------------------------------

def t_messages(c):
    # A script given as the program.
    script = os.path.join(c.workdir, "work.py")
    with open(script, "w") as f:
        f.write("print('hi')\n")
    one_line_error(c, ["work.py"], ["python3 work.py"], rc=127, cwd=c.workdir)
    one_line_error(c, ["record", "-o", "x.svg", "--", "./work.py"], ["-- python3 ./work.py"], rc=127,
                   cwd=c.workdir)
    # A subcommand mistyped.
    one_line_error(c, ["recrod", "-p", "1"], ["subcommands", "record"], rc=127)
    # A zombie.
    p = subprocess.Popen(["true"])
    deadline = time.time() + 5
    while proc_state(p.pid) != "Z" and time.time() < deadline:
        time.sleep(0.02)
    try:
        one_line_error(c, ["dump", "-p", str(p.pid)], ["zombie"], rc=1)
    finally:
        p.wait()
    # A kernel thread: kthreadd is PID 2 on Linux when the kernel's threads are visible.
    kthread = None
    for pid in (2, 3, 4):
        try:
            with open("/proc/%d/stat" % pid) as f:
                flags = int(f.read().rsplit(")", 1)[1].split()[6])
            if flags & 0x00200000:
                kthread = pid
                break
        except (OSError, ValueError, IndexError):
            pass
    if kthread:
        one_line_error(c, ["dump", "-p", str(kthread)], ["kernel thread"], rc=1)
    return "kernel thread: %s" % (kthread or "none visible here, not checked")


def t_root_without_ptrace(c):
    if os.geteuid() != 0:
        raise TestSkip("not running as root")
    setpriv = subprocess.run(["sh", "-c", "command -v setpriv"], stdout=subprocess.PIPE).stdout.strip()
    if not setpriv:
        raise TestSkip("setpriv not installed (util-linux)")
    tgt = c.start("nested_calls.py", interp=newest(c))
    run = c.pytop_run(["dump", "-p", str(tgt.pid)], timeout=20)
    if run.rc != 0:
        raise TestSkip("root cannot read a process here even with its capabilities")
    from harness import run_pytop
    run = run_pytop(c.pytop, ["dump", "-p", str(tgt.pid)],
                    prefix=[setpriv.decode(), "--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace", "--"])
    if run.rc == 0:
        raise TestSkip("root without CAP_SYS_PTRACE could still read a root process here")
    problems = expect_error(run, 1, ["root", "CAP_SYS_PTRACE"])
    if "run pytop as root" in run.stderr:
        problems.append("advises running as root to a pytop that is root")
    if problems:
        c.fail("; ".join(problems), run, tgt)
    return run.stderr.strip()


# ---- feedback ---------------------------------------------------------------------------

def t_record_feedback(c):
    tgt = c.start("idle_running.py", interp=newest(c))
    rec = os.path.join(c.workdir, "tty.pytop")
    master, slave = pty.openpty()
    cmd = [c.pytop, "record", "-d", "2s", "-o", rec, "-p", str(tgt.pid)]
    env = engine.pytop_env()
    env["TERM"] = "xterm"
    p = popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    out = b""
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None:
                break
        p.wait(10)
    finally:
        kill_group(p)
        os.close(master)
    text = out.decode("utf-8", "replace")
    updates = text.count("\rpytop: recording ")
    if updates < 3:
        c.fail("on a terminal, record updated its progress line %d times in 2 s, want several: %r"
               % (updates, text[:600]), target=tgt)
    if "samples" not in text or "Hz" not in text:
        c.fail("the progress line does not show samples and the rate: %r" % text[:300], target=tgt)
    # Without a terminal: no progress line at all.
    run = c.pytop_run(["record", "-d", "0.5s", "-o", rec, "-p", str(tgt.pid)], timeout=20)
    if "\r" in run.stderr:
        c.fail("record wrote a progress line although stderr is not a terminal", run, tgt)
    # A rate nobody achieves: the summary says so, and why.
    run = c.pytop_run(["record", "-r", "100khz", "-d", "1s", "-o", rec, "-p", str(tgt.pid)], timeout=30)
    if run.rc != 0 or "warning: only" not in run.stderr or "--rate" not in run.stderr:
        c.fail("at -r 100khz the summary does not warn that the rate was not achieved", run, tgt)
    warn = [l for l in run.stderr.splitlines() if "warning: only" in l][0]
    return "%d progress updates; %s" % (updates, warn)


CLI_TESTS = [
    ("cli_help", t_help, False),
    ("cli_version", t_version, False),
    ("cli_subcommands", t_subcommands, True),
    ("cli_option_errors", t_option_errors, False),
    ("cli_record_formats", t_record_formats, True),
    ("cli_idle_gil", t_idle_gil, True),
    ("cli_units", t_units, True),
    ("cli_output_files", t_output_files, True),
    ("cli_damaged_recording", t_damaged_recording, True),
    ("cli_launch_duration", t_launch_duration, True),
    ("cli_launch_dies_with_pytop", t_launch_dies_with_pytop, True),
    ("cli_messages", t_messages, False),
    ("cli_root_without_ptrace", t_root_without_ptrace, True),
    ("cli_record_feedback", t_record_feedback, True),
]


def build(interps):
    tests = []
    for name, fn, needs_python in CLI_TESTS:
        if needs_python and not interps:
            tests.append(Test(name, fn, skip="no Python interpreter found"))
        else:
            tests.append(Test(name, fn))
    return tests
