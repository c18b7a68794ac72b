# The --native target: main() calls the C extension's spin(), which spins
# in C and C++ and then calls py_callback back, which spins in Python.
# argv[2] is the directory holding the built native_ext module.
import sys

sys.path.insert(0, sys.argv[2])
import native_ext  # noqa: E402

import target_support as ts  # noqa: E402

C_SPIN = 3000000


def py_callback():
    n = 0
    while n < 300000:
        n += 1  # @callback-spin


def main():
    ts.expect("MainThread")
    native_ext.spin(py_callback, C_SPIN)
    ts.arrive("MainThread")
    while True:
        native_ext.spin(py_callback, C_SPIN)  # @call-ext


if __name__ == "__main__":
    main()  # @call-main
