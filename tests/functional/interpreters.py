"""Finding and identifying the Python interpreters to test pytop against.

Candidates: every pyenv version's bin/pythonX.Y, /usr/bin/python2.7 and
/usr/bin/python3.*. Each is identified by running it, so a broken one is
reported instead of failing tests in confusing ways. Versions we expect to
cover but cannot find are returned too, so the runner prints a named SKIP
for each instead of silently testing less.
"""
import glob
import os
import re
import subprocess

# (label, major, minor, system): "system" means the distribution's own
# build in /usr/bin (Debian's 3.11 is static and stripped of .symtab,
# which is exactly the kind of interpreter pytop must cope with).
EXPECTED = [
    ("python2.7", 2, 7, False),
    ("python3.6", 3, 6, False),
    ("python3.7", 3, 7, False),
    ("python3.8", 3, 8, False),
    ("python3.9", 3, 9, False),
    ("python3.10", 3, 10, False),
    ("python3.11", 3, 11, False),
    ("python3.12", 3, 12, False),
    ("python3.13", 3, 13, False),
    ("python3.11-debian", 3, 11, True),
]

_NAME_RE = re.compile(r"^python(\d)\.(\d+)$")

# The free-threaded 3.13 scripts/build-python-ft.sh builds.
FT_PATH = os.path.join(os.environ.get("PYTOP_CACHE") or "/var/cache/pytop",
                       "python3.13t", "bin", "python3.13t")

# Prints the version and the libpython mapped into the interpreter (empty
# for a static build). Must run on 2.7 and every 3.x.
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
    "try:\n"
    "    import sysconfig\n"
    "    print(int(bool(sysconfig.get_config_var('Py_GIL_DISABLED'))))\n"
    "except Exception:\n"
    "    print(0)\n"
)


class Interpreter(object):
    def __init__(self, path, version, libpython, libpython_soname, static, system):
        self.path = path                    # as found (what we run)
        self.realpath = os.path.realpath(path)
        self.version = version              # (major, minor, micro)
        self.libpython = libpython          # realpath of the mapped libpython, or None
        self.libpython_soname = libpython_soname
        self.static = static
        self.system = system
        self.id = None                      # set by discover(), unique
        self.free_threaded = False          # a Py_GIL_DISABLED build (3.13t)

    @property
    def version_str(self):
        return "%d.%d.%d" % self.version

    def at_least(self, major, minor):
        return self.version[:2] >= (major, minor)

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


def candidates():
    found = []
    root = pyenv_root()
    for path in sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python*"))):
        if _NAME_RE.match(os.path.basename(path)):
            found.append(path)
    for path in ["/usr/bin/python3.11", "/usr/bin/python2.7"] + sorted(glob.glob("/usr/bin/python3.*")):
        if _NAME_RE.match(os.path.basename(path)) and os.path.exists(path):
            found.append(path)
    if os.path.exists(FT_PATH):
        found.append(FT_PATH)
    return found


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
    try:
        p = subprocess.run([path, "-E", "-s", "-c", _IDENTIFY], stdout=subprocess.PIPE,
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
    ldd = _ldd_libpython(path)
    if ldd is None:
        # No ldd: fall back on what the interpreter itself has mapped.
        soname, libpath = os.path.basename(mapped), mapped
    else:
        soname, libpath = ldd
    static = not soname
    lib = os.path.realpath(libpath or mapped) if not static and (libpath or mapped) else None
    system = os.path.realpath(path).startswith("/usr/")
    it = Interpreter(path, version, lib, soname or None, static, system)
    it.free_threaded = len(lines) > 2 and lines[2].strip() == "1"
    return it


def _make_id(interp):
    parts = [interp.version_str + ("t" if interp.free_threaded else "")]
    if interp.system:
        parts.append("debian" if os.path.exists("/etc/debian_version") else "system")
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
    interps.sort(key=lambda i: (i.version, i.system, i.path))
    used = set()
    for i in interps:
        base = _make_id(i)
        ident, n = base, 2
        while ident in used:
            ident, n = "%s-%d" % (base, n), n + 1
        used.add(ident)
        i.id = ident

    skips = []
    for label, major, minor, system in EXPECTED:
        if any(i.version[:2] == (major, minor) and i.system == system and not i.free_threaded
               for i in interps):
            continue
        if restrict:
            # Was it installed but left out on purpose?
            installed = False
            for path in candidates():
                if path in paths:
                    continue
                m = _NAME_RE.match(os.path.basename(path))
                if m and (int(m.group(1)), int(m.group(2))) == (major, minor) \
                        and os.path.realpath(path).startswith("/usr/") == system:
                    installed = True
            if installed:
                skips.append((label, "not selected by --python"))
                continue
        where = "/usr/bin/python%d.%d" % (major, minor) if system else \
            "%s/versions/%d.%d.*/bin/python%d.%d" % (pyenv_root(), major, minor, major, minor)
        skips.append((label, "not installed (looked for %s)" % where))
    if not any(i.free_threaded for i in interps) and not restrict:
        skips.append(("python3.13t", "not built (looked for %s; scripts/build-python-ft.sh builds it)"
                      % FT_PATH))
    for label in ("python3.14t", "python3.15t"):
        if not restrict and not any(i.free_threaded and i.version[:2] == (3, int(label[-3:-1]))
                                    for i in interps):
            skips.append((label, "no %s binary exists here (Debian unstable's source packages are not "
                                 "served, so none can be built); its free-threaded paths are tested on "
                                 "fake memory (tests/unit/test_free_threaded.c)" % label))
    return interps, skips, problems
