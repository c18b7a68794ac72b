# The main thread and three named workers, each waiting in its own function.
# arrive() and sleep share one line, so the frame's line is right from the
# moment the thread reports in.
import time

import target_support as ts


def task_alpha():
    ts.arrive("worker-1"); time.sleep(1000)  # @alpha


def task_beta():
    ts.arrive("worker-2"); time.sleep(1000)  # @beta


def task_gamma():
    ts.arrive("worker-3"); time.sleep(1000)  # @gamma


def main_wait():
    ts.arrive("MainThread"); time.sleep(1000)  # @main-wait


def main():
    ts.expect("MainThread", "worker-1", "worker-2", "worker-3")
    ts.start_thread("worker-1", task_alpha)
    ts.start_thread("worker-2", task_beta)
    ts.start_thread("worker-3", task_gamma)
    main_wait()  # @call-main-wait


if __name__ == "__main__":
    main()  # @call-main
