# Named asyncio tasks (Python 3.11+): one burning CPU in a coroutine chain,
# others awaiting asyncio.sleep through a chain, an Event, a Queue and
# another task, one left unnamed, and one in a second thread's own event
# loop ("far", awaiting asyncio.sleep in far_nap). The ready report carries where the
# task object holds its coroutine and name, found by scanning the object
# with ctypes, for the test to compare with pytop's layout.
import asyncio
import ctypes
import threading

import target_support as ts


async def nap():
    await asyncio.sleep(3600)  # @sleep


async def sleeper():
    await nap()  # @await-nap


async def waiter(event):
    await event.wait()  # @event-wait


async def consumer(queue):
    await queue.get()  # @queue-get


async def joiner(task):
    await task  # @await-task


async def unnamed():
    await asyncio.sleep(3600)  # @unnamed-sleep


async def spin():
    n = 0
    while True:
        n += 1  # @burn
        if n == 200000:
            ts.arrive("MainThread")


async def burner():
    await spin()  # @await-spin


async def far_nap():
    await asyncio.sleep(3600)  # @far-sleep


async def far_main(started):
    t = asyncio.create_task(far_nap(), name="far")
    await asyncio.sleep(0.1)
    started.set()
    await t


def far_loop(started):
    asyncio.run(far_main(started))


def probe(task):
    """Byte offsets of the coroutine and the name inside the task object."""
    words = (ctypes.c_uint64 * 64).from_address(id(task))
    coro, name = id(task.get_coro()), id(task.get_name())
    found = {}
    for i in range(min(64, type(task).__basicsize__ // 8)):
        if words[i] == coro:
            found["coro"] = i * 8
        if words[i] == name:
            found["name"] = i * 8
    return found


async def main():
    event = asyncio.Event()
    queue = asyncio.Queue()
    s = asyncio.create_task(sleeper(), name="sleeper")
    tasks = [s,
             asyncio.create_task(waiter(event), name="waiter"),
             asyncio.create_task(consumer(queue), name="consumer"),
             asyncio.create_task(joiner(s), name="joiner"),
             asyncio.create_task(unnamed())]
    await asyncio.sleep(0.2)    # every one reaches its await
    ts.info(task_fields=probe(s), basicsize=type(s).__basicsize__)
    await asyncio.create_task(burner(), name="burner")  # @await-burner
    del tasks


if __name__ == "__main__":
    ts.expect("MainThread")
    started = threading.Event()
    threading.Thread(target=far_loop, args=(started,), name="far-loop", daemon=True).start()
    started.wait()
    asyncio.run(main())  # @run
