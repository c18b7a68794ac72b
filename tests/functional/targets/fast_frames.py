# Frames that come and go fast: a generator pipeline in a thread, and in
# the main thread 16 asyncio tasks switching (3.6+) or the same pipeline
# (2.7), with comprehensions and small calls in a tight loop. A stack read
# while it changes must come out whole or marked, never cut unmarked.
import sys
import threading

import target_support as ts


def source(n):
    for i in range(n):
        yield i


def double(it):
    for x in it:
        yield x * 2


def small(x):
    return x + 1


def pipeline(key):
    n = 0
    while True:
        total = sum(small(x) for x in double(source(50)))
        total += len([small(i) for i in range(20)])
        total += sum({small(i): i for i in range(10)})
        n += 1
        if n == 20:
            ts.arrive(key)


def worker():
    pipeline("worker")  # @call-pipeline


def main():
    ts.expect("MainThread", "worker")
    t = threading.Thread(target=worker, name="worker")
    t.daemon = True
    t.start()
    if sys.version_info >= (3, 6):
        import fast_frames_aio
        fast_frames_aio.run(pipeline_step, ts)
    else:
        pipeline("MainThread")


def pipeline_step():
    return sum(small(x) for x in double(source(20))) + len([small(i) for i in range(10)])


if __name__ == "__main__":
    main()  # @call-main
