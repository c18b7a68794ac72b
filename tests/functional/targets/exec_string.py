# Code compiled from a string: its frames' file is "<generated>".
# Markers inside SRC are lines of this file; the runner subtracts the line
# of @src-begin (the line just above SRC) to get lines within the string.
import target_support as ts

# @src-begin
SRC = """
def generated_spin():
    n = 0
    while True: n += 1; _ = n == 20000 and arrive("MainThread")  # @gen-spin
generated_spin()  # @gen-call
"""


def main():
    ts.expect("MainThread")
    code = compile(SRC, "<generated>", "exec")
    exec(code, {"arrive": ts.arrive})  # @exec


if __name__ == "__main__":
    main()  # @call-main
