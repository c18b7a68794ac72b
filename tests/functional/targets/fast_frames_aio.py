# The asyncio half of fast_frames.py (syntax that Python 2.7 cannot parse).
import asyncio

TASKS = 16


async def task(step, counter, ts):
    while True:
        step()
        await asyncio.sleep(0)
        counter[0] += 1
        if counter[0] == 20 * TASKS:
            ts.arrive("MainThread")


async def gather_all(step, ts):
    counter = [0]
    await asyncio.gather(*[task(step, counter, ts) for _ in range(TASKS)])


def run(step, ts):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(gather_all(step, ts))
