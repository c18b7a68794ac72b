"""asyncio tasks for the Tasks view (3.11+): "burner" runs hot_function in
a coroutine, "sleeper" awaits asyncio.sleep through nap(), "waiter" an
Event.

    python tasks.py --ready FILE
"""
import asyncio

import tui_ready
from tui_ready import hot_function

READY = tui_ready.ready_path()


async def nap():
    await asyncio.sleep(3600)


async def sleeper():
    await nap()


async def waiter(event):
    await event.wait()


async def burner():
    first = True
    while True:
        hot_function(200000)
        if first:
            tui_ready.arrived(READY, "MainThread", 1)
            first = False


async def main():
    event = asyncio.Event()
    tasks = [asyncio.create_task(sleeper(), name="sleeper"),
             asyncio.create_task(waiter(event), name="waiter")]
    await asyncio.sleep(0.1)
    await asyncio.create_task(burner(), name="burner")
    del tasks


if __name__ == "__main__":
    asyncio.run(main())
