"""Memory that comes and goes in known places: grow_memory appends 1 MiB
bytearrays to a list, one every few milliseconds, up to 64 MiB; then
release_memory drops them one by one; forever. Each runs its own busy
loop between steps (no call out to another Python function), so the
samples that see the resident size change find these functions running.

    python grow_release.py --ready FILE
Runs on Python 2.7 and 3.x.
"""
import sys
import time

import tui_ready

CHUNK = 1 << 20
CHUNKS = 64
STEP = 0.003


def fixed_mmap_threshold():
    """Keep every chunk in its own mapping, so freeing one unmaps it at once
    (glibc otherwise raises the threshold after the first free)."""
    try:
        import ctypes
        ctypes.CDLL(None).mallopt(-3, 128 * 1024)   # M_MMAP_THRESHOLD
    except Exception:
        pass


def grow_memory(held):
    while len(held) < CHUNKS:
        held.append(bytearray(CHUNK))
        end = time.time() + STEP
        while time.time() < end:
            pass


def release_memory(held):
    while held:
        held.pop()
        end = time.time() + STEP
        while time.time() < end:
            pass


def main():
    ready = sys.argv[sys.argv.index("--ready") + 1] if "--ready" in sys.argv else None
    fixed_mmap_threshold()
    held = []
    first = True
    while True:
        grow_memory(held)
        release_memory(held)
        if first:
            tui_ready.arrived(ready, "MainThread", 1)
            first = False


if __name__ == "__main__":
    main()
