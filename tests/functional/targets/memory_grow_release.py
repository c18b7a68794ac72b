# Memory known by construction: grow() takes 48 MiB of resident memory in
# 1 MiB steps, one every few milliseconds, and release() gives it back the
# same way, forever. Each phase lasts far longer than a sampling period,
# so the sampler sees the phase that changed the resident size. Chunks are
# 1 MiB, above the C library's mmap threshold: freeing one unmaps it and
# the resident size drops at once.
import time

import target_support as ts

CHUNK = 1 << 20
CHUNKS = 48
STEP_SECONDS = 0.004


def pause():
    # Sleep, but also use a little CPU so the phase shows in CPU time too.
    end = time.time() + STEP_SECONDS
    while time.time() < end: pass  # @spin


def grow(held):
    for _ in range(CHUNKS):
        held.append(b"g" * CHUNK)  # @alloc
        pause()


def release(held):
    while held:
        held.pop()  # @free
        pause()


def main():
    ts.expect("MainThread")
    ts.info(chunk=CHUNK, chunks=CHUNKS)
    held = []
    ts.arrive("MainThread")
    while True:
        grow(held)  # @call-grow
        release(held)  # @call-release


if __name__ == "__main__":
    main()  # @call-main
