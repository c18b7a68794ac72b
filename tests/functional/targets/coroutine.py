# A coroutine spinning synchronously under asyncio (Python 3.6+ only).
import asyncio

import target_support as ts


async def worker():
    n = 0
    while True: n += 1; _ = n == 20000 and ts.arrive("MainThread")  # @spin


async def main():
    await worker()  # @await-worker


def run():
    ts.expect("MainThread")
    # A fresh loop rather than get_event_loop(): the latter warns on 3.12+
    # and raises on 3.14 when no loop is running; the stack is the same.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(main())  # @run-until-complete


if __name__ == "__main__":
    run()  # @call-run
