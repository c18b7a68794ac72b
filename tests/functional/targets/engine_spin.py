# A long-running target that never ends: one thread spinning, so its state
# is R and its CPU time grows, which shows it was not left stopped.
import target_support as ts


def spin_forever():
    n = 0
    while True: n += 1; _ = n == 20000 and ts.arrive("MainThread")  # @spin


def main():
    ts.expect("MainThread")
    spin_forever()  # @call-spin


if __name__ == "__main__":
    main()  # @call-main
