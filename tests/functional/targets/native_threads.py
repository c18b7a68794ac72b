# The --native consistency target: THREADS threads, each alternating fast
# between py_only(), which spins in Python and calls no C function of the
# extension, and in_c(), which calls native_ext.spin (C, C++, then a
# Python callback). A C frame of the extension under py_only() would be
# a C stack merged with Python frames of another moment.
# argv[2] is the directory holding the built native_ext module.
import sys
import threading

sys.path.insert(0, sys.argv[2])
import native_ext  # noqa: E402

import target_support as ts  # noqa: E402

THREADS = 4
C_SPIN = 200000


def callback():
    pass


def py_only():
    n = 0
    while n < 20000:
        n += 1  # @py-spin


def in_c():
    native_ext.spin(callback, C_SPIN)  # @call-ext


def worker(key):
    ts.arrive(key)
    while True:
        py_only()
        in_c()


def main():
    keys = ["w%d" % i for i in range(THREADS)]
    ts.expect(*keys)
    for k in keys:
        t = threading.Thread(target=worker, args=(k,), name=k)
        t.daemon = True
        t.start()
    while True:
        threading.Event().wait(1.0)


if __name__ == "__main__":
    main()  # @call-main
