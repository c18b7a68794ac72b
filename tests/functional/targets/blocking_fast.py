# Frames that come and go fast: a generator pipeline and small calls in
# the main thread, small calls in a tight loop in two workers. Read while
# it runs, a stack can be torn (cut at a frame that was just left); held
# while read (--blocking), every stack is one the program can have.
import target_support as ts


def numbers():
    n = 0
    while True:
        n += 1
        yield n


def squares(src):
    for x in src:
        yield x * x


def evens(src):
    for x in src:
        if x % 2 == 0:
            yield x


def add(a, b):
    return a + b


def twice(x):
    return add(x, x)


def pipeline():
    i = 0
    for x in evens(squares(numbers())):
        i = twice(i) % 1000 + 1
        if x == 40000:
            ts.arrive("MainThread")


def worker(key):
    n = k = 0
    while True:
        n = twice(n) % 1000 + 1
        k += 1
        if k == 10000:
            ts.arrive(key)


def main():
    ts.expect("MainThread", "w1", "w2")
    ts.start_thread("w1", worker, "w1")
    ts.start_thread("w2", worker, "w2")
    pipeline()


if __name__ == "__main__":
    main()
