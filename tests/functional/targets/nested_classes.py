# A method of a nested class: co_qualname is Outer.Inner.method on 3.11+.
import target_support as ts


class Outer(object):
    class Inner(object):
        def method(self):
            n = 0
            while True: n += 1; _ = n == 20000 and ts.arrive("MainThread")  # @spin


def main():
    ts.expect("MainThread")
    Outer.Inner().method()  # @call-method


if __name__ == "__main__":
    main()  # @call-main
