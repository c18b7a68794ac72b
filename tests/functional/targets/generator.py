# A generator that spins while its consumer iterates it.
import target_support as ts


def gen_spin():
    yield 0
    n = 0
    while True: n += 1; _ = n == 20000 and ts.arrive("MainThread")  # @spin


def consume():
    for item in gen_spin(): pass  # @iterate


def main():
    ts.expect("MainThread")
    consume()  # @call-consume


if __name__ == "__main__":
    main()  # @call-main
