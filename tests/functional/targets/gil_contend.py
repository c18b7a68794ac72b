# Two threads running pure Python, contending for the GIL: on a build with
# a GIL one holds it while the other waits for it.
import target_support as ts


def spin(key):
    n = 0
    while True:
        n += 1  # @spin
        if n == 20000:
            ts.arrive(key)


def main():
    ts.expect("MainThread", "spinner-2")
    ts.start_thread("spinner-2", spin, "spinner-2")
    spin("MainThread")  # @call-spin


if __name__ == "__main__":
    main()
