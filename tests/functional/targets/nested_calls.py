# Nested calls: main -> level1 -> level2 -> level3, level3 spinning.
# Lines the runner checks carry "# @marker" comments; every spin loop is a
# single line so the sampled line is the same whenever pytop looks.
import target_support as ts


def level3():
    n = 0
    while True: n += 1; _ = n == 20000 and ts.arrive("MainThread")  # @spin


def level2():
    level3()  # @call-level3


def level1():
    level2()  # @call-level2


def main():
    ts.expect("MainThread")
    level1()  # @call-level1


if __name__ == "__main__":
    main()  # @call-main
