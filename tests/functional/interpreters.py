"""Finding and identifying the Python interpreters to test pytop against.

Candidates: every pyenv version's bin/pythonX.Y, /usr/bin/python2.7 and
/usr/bin/python3.*, the interpreters of the Debian sid root that
scripts/install-sid-root.sh installs and the free-threaded 3.13 that
scripts/build-python-ft.sh builds. Each is identified by running it, so a
broken one is reported instead of failing tests in confusing ways. Versions
we expect to cover but cannot find are returned too, so the runner prints a
named SKIP for each instead of silently testing less.

An interpreter inside a root (a directory marked complete by its install
script) runs as a container target: `chroot ROOT python3.X ...`, with /proc
mounted in the root in a private mount namespace of its own, so the mount
ends with the process and nothing is left mounted. pytop attaches from
outside. Such an interpreter is named by its path on this machine, e.g.
--python /var/cache/pytop/sid/usr/bin/python3.13.
"""
import glob
import os
import re
import shutil
import subprocess
import threading

CACHE = os.environ.get("PYTOP_CACHE") or "/var/cache/pytop"
SID_ROOT = os.path.join(CACHE, "sid")
FT_PYTHON = os.path.join(CACHE, "python3.13t", "bin", "python3.13t")
# Written by scripts/build-python-ft.sh when the build is installed.
FT_MARKER = os.path.join(CACHE, "python3.13t", ".pytop-build-complete")
# Written by scripts/install-sid-root.sh when a root is complete.
ROOT_MARKER = ".pytop-root-complete"

# (label, major, minor, flavour, abiflags). flavour: "" for a build on this
# machine (pyenv's, the free-threaded one), "debian" for the distribution's
# own in /usr/bin (Debian's 3.11 is static and stripped of .symtab, which is
# exactly the kind of interpreter pytop must cope with), "sid" for Debian
# unstable's in the sid root. abiflags: "d" debug build, "t" free-threaded.
EXPECTED = [
    ("python2.7", 2, 7, "", ""),
    ("python3.6", 3, 6, "", ""),
    ("python3.7", 3, 7, "", ""),
    ("python3.8", 3, 8, "", ""),
    ("python3.9", 3, 9, "", ""),
    ("python3.10", 3, 10, "", ""),
    ("python3.11", 3, 11, "", ""),
    ("python3.12", 3, 12, "", ""),
    ("python3.13", 3, 13, "", ""),
    ("python3.11-debian", 3, 11, "debian", ""),
    ("python3.13-sid", 3, 13, "sid", ""),
    ("python3.14-sid", 3, 14, "sid", ""),
    ("python3.14d-sid", 3, 14, "sid", "d"),
    ("python3.15-sid", 3, 15, "sid", ""),
    ("python3.13t", 3, 13, "", "t"),
]

_NAME_RE = re.compile(r"^python(\d)\.(\d+)([dt]?)$")

# Prints the version, the libpython mapped into the interpreter (empty for
# a static build) and the ABI flags ("d" debug, "t" free-threaded). Must
# run on 2.7 and every 3.x.
_IDENTIFY = (
    "import sys\n"
    "print(tuple(sys.version_info[:3]))\n"
    "lib = ''\n"
    "try:\n"
    "    for l in open('/proc/self/maps'):\n"
    "        f = l.split()\n"
    "        if len(f) >= 6 and 'libpython' in f[-1]:\n"
    "            lib = f[-1]\n"
    "            break\n"
    "except Exception:\n"
    "    pass\n"
    "print(lib)\n"
    "flags = 'd' if hasattr(sys, 'gettotalrefcount') else ''\n"
    "try:\n"
    "    import sysconfig\n"
    "    if sysconfig.get_config_var('Py_GIL_DISABLED'):\n"
    "        flags = 't' + flags\n"
    "except Exception:\n"
    "    pass\n"
    "print(flags)\n"
)

# Runs a command chroot'd into $0 with the root's own /proc: a private
# mount namespace, so the mount is gone when the process is.
_IN_ROOT = 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"'


def root_of(path):
    """The root directory holding path (a directory with ROOT_MARKER), or None."""
    d = os.path.dirname(os.path.abspath(path))
    while d != "/":
        if os.path.exists(os.path.join(d, ROOT_MARKER)):
            return d
        d = os.path.dirname(d)
    return None


def resolve_in(root, path):
    """path (as seen inside root) with its symbolic links resolved inside root."""
    parts = [p for p in path.split("/") if p]
    done = []
    hops = 0
    while parts:
        p = parts.pop(0)
        if p == ".":
            continue
        if p == "..":
            if done:
                done.pop()
            continue
        host = os.path.join(root, *(done + [p]))
        if os.path.islink(host) and hops < 40:
            hops += 1
            target = os.readlink(host)
            if target.startswith("/"):
                done = []
            parts = [x for x in target.split("/") if x] + parts
            continue
        done.append(p)
    return "/" + "/".join(done)


class Interpreter(object):
    """One interpreter: how to run it and where a file is as it sees it.

    Paths kept here (path, realpath, libpython) are paths on this machine;
    for an interpreter in a root, inside() gives the path the interpreter
    itself sees (its co_filename, its sys.executable) and stage() puts a
    file where it can be read."""

    def __init__(self, path, version, libpython, libpython_soname, static, flavour, abiflags="", root=None):
        self.path = path                    # as found, on this machine
        self.root = root                    # the chroot it runs in, or None
        self.exe = path[len(root):] if root else path   # what is run (inside the root)
        self.realpath = root + resolve_in(root, self.exe) if root else os.path.realpath(path)
        self.version = version              # (major, minor, micro)
        self.libpython = libpython          # realpath of the mapped libpython, or None
        self.libpython_soname = libpython_soname
        self.static = static
        self.flavour = flavour              # "", "debian" or the root's name ("sid")
        self.abiflags = abiflags            # "", "d" (debug), "t" (free-threaded), "td"
        self.id = None                      # set by discover(), unique
        self.selected = False               # named by --python

    @property
    def system(self):
        return self.flavour == "debian"

    @property
    def free_threaded(self):
        """A Py_GIL_DISABLED build (3.13t): no GIL holder, mimalloc."""
        return "t" in self.abiflags

    @property
    def key(self):
        return (self.version[0], self.version[1], self.flavour, self.abiflags)

    @property
    def version_str(self):
        return "%d.%d.%d" % self.version

    def at_least(self, major, minor):
        return self.version[:2] >= (major, minor)

    def command(self, args=(), cwd=None):
        """argv running the interpreter with args; cwd (a path on this
        machine) is its working directory, to be passed to Popen as well."""
        if not self.root:
            return [self.path] + list(args)
        inner = ["env", "-C", self.inside(cwd)] if cwd else []
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", _IN_ROOT, self.root] + \
            inner + [self.exe] + list(args)

    def inside(self, path):
        """path on this machine as the interpreter sees it."""
        if not self.root:
            return path
        path = os.path.abspath(path)
        if path != self.root and not path.startswith(self.root + "/"):
            raise ValueError("%s is outside %s's root %s" % (path, self.id, self.root))
        return path[len(self.root):] or "/"

    def host(self, path):
        """A path the interpreter sees, as a path on this machine."""
        return self.root + path if self.root else path

    def scratch(self, tmproot):
        """A directory for files the interpreter reads and writes: tmproot,
        or its counterpart inside the root (made once, removed by cleanup())."""
        if not self.root:
            return tmproot
        d = os.path.join(self.root, "tmp", os.path.basename(tmproot))
        with _staged_lock:
            if not os.path.isdir(d):
                os.makedirs(d)
                os.chmod(d, 0o700)
                _made.append(d)
        return d

    def stage(self, path):
        """path (a file on this machine) as the interpreter can open it:
        itself, or a copy of its whole directory (the helpers next to it
        included) inside the root, made once per run."""
        path = os.path.abspath(path)
        if not self.root:
            return path
        if path.startswith(self.root + "/"):
            return self.inside(path)
        src = os.path.dirname(path)
        with _staged_lock:
            dst = _staged.get((self.root, src))
            if dst is None:
                base = os.path.join(self.root, "tmp", "pytop-staged-%d" % os.getpid())
                if not os.path.isdir(base):
                    os.makedirs(base)
                    _made.append(base)
                dst = os.path.join(base, "%d-%s" % (len(_staged), os.path.basename(src)))
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                _staged[(self.root, src)] = dst
        return self.inside(os.path.join(dst, os.path.basename(path)))

    def __repr__(self):
        return "Interpreter(%s, %s)" % (self.id, self.path)


def pyenv_root():
    root = os.environ.get("PYENV_ROOT")
    if root:
        return root
    try:
        out = subprocess.check_output(["pyenv", "root"], stderr=subprocess.DEVNULL, timeout=20)
        root = out.decode("utf-8", "replace").strip()
        if root:
            return root
    except (OSError, subprocess.SubprocessError):
        pass
    return os.path.expanduser("~/.pyenv")


_made = []   # scratch directories made inside roots
_staged = {}   # (root, directory on this machine) -> its copy inside root
_staged_lock = threading.Lock()


def cleanup():
    """Removes the scratch directories made inside roots."""
    with _staged_lock:
        while _made:
            shutil.rmtree(_made.pop(), ignore_errors=True)
        _staged.clear()


def root_candidates(root):
    """The interpreters of a complete root: ROOT/usr/bin/python3.X[d]."""
    if not os.path.exists(os.path.join(root, ROOT_MARKER)):
        return []
    return [p for p in sorted(glob.glob(os.path.join(root, "usr", "bin", "python*")))
            if _NAME_RE.match(os.path.basename(p))]


def candidates():
    found = []
    root = pyenv_root()
    for path in sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python*"))):
        if _NAME_RE.match(os.path.basename(path)):
            found.append(path)
    for path in ["/usr/bin/python3.11", "/usr/bin/python2.7"] + sorted(glob.glob("/usr/bin/python3.*")):
        if _NAME_RE.match(os.path.basename(path)) and os.path.exists(path):
            found.append(path)
    return found + installed_candidates()


def installed_candidates():
    """What scripts/interpreters.sh installed and completed."""
    found = root_candidates(SID_ROOT)
    if os.path.exists(FT_MARKER) and os.path.exists(FT_PYTHON):
        found.append(FT_PYTHON)
    return found


def flavour_of(path, root):
    if root:
        return os.path.basename(root)
    return "debian" if os.path.realpath(path).startswith("/usr/") else ""


def _ldd_libpython(path):
    """(soname, path) of libpython per ldd, ("", "") if none, None if ldd failed."""
    try:
        p = subprocess.run(["ldd", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    out = p.stdout.decode("utf-8", "replace")
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("libpython"):
            parts = line.split()
            soname = parts[0]
            target = parts[2] if len(parts) >= 3 and parts[1] == "=>" else ""
            return soname, target
    return "", ""


def identify(path):
    """An Interpreter, or raises RuntimeError saying why it is unusable."""
    root = root_of(path)
    probe = Interpreter(path, (0, 0, 0), None, None, True, "", root=root)
    try:
        p = subprocess.run(probe.command(["-E", "-s", "-c", _IDENTIFY]), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
    except subprocess.TimeoutExpired:
        raise RuntimeError("timed out identifying it")
    except OSError as e:
        raise RuntimeError("cannot run it: %s" % e)
    if p.returncode != 0:
        raise RuntimeError("exit %d: %s" % (p.returncode, p.stderr.decode("utf-8", "replace").strip()[-300:]))
    lines = p.stdout.decode("utf-8", "replace").splitlines()
    m = re.match(r"^\((\d+), (\d+), (\d+)\)$", lines[0].strip()) if lines else None
    if not m:
        raise RuntimeError("unexpected version output %r" % p.stdout[:200])
    version = tuple(int(x) for x in m.groups())
    mapped = lines[1].strip() if len(lines) > 1 else ""
    abiflags = lines[2].strip() if len(lines) > 2 else ""
    if root:
        # ldd here would resolve the root's libraries against ours.
        mapped = root + resolve_in(root, mapped) if mapped else ""
        ldd = None
    else:
        ldd = _ldd_libpython(path)
    if ldd is None:
        # No ldd: fall back on what the interpreter itself has mapped.
        soname, libpath = os.path.basename(mapped), mapped
    else:
        soname, libpath = ldd
    static = not soname
    lib = os.path.realpath(libpath or mapped) if not static and (libpath or mapped) else None
    if lib and root:
        lib = root + resolve_in(root, lib[len(root):])
    return Interpreter(path, version, lib, soname or None, static, flavour_of(path, root), abiflags, root)


def _make_id(interp):
    parts = [interp.version_str + interp.abiflags]
    if interp.system:
        parts.append("debian" if os.path.exists("/etc/debian_version") else "system")
    elif interp.flavour:
        parts.append(interp.flavour)
    if interp.static:
        parts.append("static")
    return "-".join(parts)


def discover(restrict=None):
    """Returns (interpreters, skips, problems).

    restrict: list of paths from --python; only those are tested.
    skips: (label, reason) for expected versions we will not test.
    problems: (path, reason) for candidates that could not be used.
    """
    paths = list(restrict) if restrict else candidates()
    seen = set()
    interps, problems = [], []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError as e:
            problems.append((path, "not found: %s" % e.strerror))
            continue
        key = (os.path.realpath(path), st.st_dev, st.st_ino)
        if key[0] in seen or key[1:] in seen:
            continue
        seen.add(key[0])
        seen.add(key[1:])
        try:
            interps.append(identify(path))
        except RuntimeError as e:
            problems.append((path, str(e)))
    for i in interps:
        i.selected = bool(restrict)
    interps.sort(key=lambda i: (i.version, i.flavour, i.abiflags, i.path))
    used = set()
    for i in interps:
        base = _make_id(i)
        ident, n = base, 2
        while ident in used:
            ident, n = "%s-%d" % (base, n), n + 1
        used.add(ident)
        i.id = ident

    skips = []
    for label, major, minor, flavour, abiflags in EXPECTED:
        if any(i.key == (major, minor, flavour, abiflags) for i in interps):
            continue
        if restrict:
            # Was it installed but left out on purpose?
            installed = False
            for path in candidates():
                if path in paths:
                    continue
                m = _NAME_RE.match(os.path.basename(path))
                if m and (int(m.group(1)), int(m.group(2)), m.group(3)) == (major, minor, abiflags) \
                        and flavour_of(path, root_of(path)) == flavour:
                    installed = True
            if installed:
                skips.append((label, "not selected by --python"))
                continue
        name = "python%d.%d%s" % (major, minor, abiflags)
        if flavour == "debian":
            where = "/usr/bin/" + name
        elif flavour:
            where = "%s/usr/bin/%s; scripts/install-%s-root.sh installs it" % (SID_ROOT, name, flavour)
        elif abiflags == "t":
            where = "%s; scripts/build-python-ft.sh builds it" % FT_PYTHON
        else:
            where = "%s/versions/%d.%d.*/bin/%s" % (pyenv_root(), major, minor, name)
        skips.append((label, "not installed (looked for %s)" % where))
    for label in ("python3.14t", "python3.15t"):
        if not restrict and not any(i.free_threaded and i.version[:2] == (3, int(label[-3:-1]))
                                    for i in interps):
            skips.append((label, "no %s binary exists here (Debian unstable's source packages are not "
                                 "served, so none can be built); its free-threaded paths are tested on "
                                 "fake memory (tests/unit/test_free_threaded.c)" % label))
    return interps, skips, problems
