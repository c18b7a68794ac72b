# Recursion that goes up and down all the time, between 1 and DEPTH calls
# deep: frames are freed as fast as they are made, so a reader that
# follows a freed frame's link (up to 3.10 it leads into the free list)
# finds chains deeper than the recursion ever was.
import target_support as ts

DEPTH = 150


def down(n):
    if n > 1:
        return down(n - 1) + 1  # @down
    return 1


def main():
    ts.expect("MainThread")
    ts.info(depth=DEPTH)
    i = 0
    while True:
        i += 1
        down(1 + (i * 37) % DEPTH)  # @call-down
        if i == 200:
            ts.arrive("MainThread")


if __name__ == "__main__":
    main()  # @call-main
