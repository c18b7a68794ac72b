#!/usr/bin/env python
"""A small, realistic-looking workload to point pytop at.

    python examples/demo.py [--duration SECONDS] &
    pytop -p $!

Threads:
  MainThread   the service loop: fills a cache, then evicts it, so memory
               grows and shrinks in a saw-tooth
  ingest       CPU-bound: generates access-log lines, parses them, hashes
               and ranks them, a few layers of calls deep
  poller       mostly waiting in select() on a socket, like an I/O client

Runs on Python 2.7 and 3.x, until killed or for --duration seconds.
"""
from __future__ import print_function

import argparse
import hashlib
import os
import random
import re
import select
import socket
import sys
import threading
import time

LOG_LINE = re.compile(r'^(?P<host>\S+) - - \[(?P<ts>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+) HTTP/1\.[01]" '
                      r'(?P<status>\d{3}) (?P<size>\d+)$')
PATHS = ["/", "/login", "/api/v1/items", "/api/v1/items/42", "/static/app.js", "/search?q=python"]
METHODS = ["GET", "GET", "GET", "POST", "PUT", "DELETE"]

stop = threading.Event()


# ---- ingest: CPU-bound pipeline ------------------------------------------------

def generate_batch(rng, size):
    lines = []
    for _ in range(size):
        host = "10.0.%d.%d" % (rng.randint(0, 15), rng.randint(1, 254))
        lines.append('%s - - [22/Nov/2024:10:%02d:%02d +0000] "%s %s HTTP/1.1" %d %d' % (
            host, rng.randint(0, 59), rng.randint(0, 59), rng.choice(METHODS), rng.choice(PATHS),
            rng.choice([200, 200, 200, 301, 404, 500]), rng.randint(100, 50000)))
    return lines


def parse_line(line):
    m = LOG_LINE.match(line)
    if m is None:
        return None
    record = m.groupdict()
    record["status"] = int(record["status"])
    record["size"] = int(record["size"])
    return record


def parse_batch(lines):
    return [r for r in (parse_line(l) for l in lines) if r is not None]


def fingerprint(record):
    h = hashlib.sha256()
    for key in ("host", "method", "path", "status"):
        h.update(str(record[key]).encode("ascii"))
    for _ in range(20):     # key stretching, to make hashing show up
        h = hashlib.sha256(h.digest())
    return h.hexdigest()


def rank_hosts(records):
    traffic = {}
    for r in records:
        traffic[r["host"]] = traffic.get(r["host"], 0) + r["size"]
    return sorted(traffic.items(), key=lambda kv: (-kv[1], kv[0]))[:10]


def process_batch(rng):
    records = parse_batch(generate_batch(rng, 400))
    seen = set(fingerprint(r) for r in records)
    errors = sum(1 for r in records if r["status"] >= 500)
    return len(seen), errors, rank_hosts(records)


def ingest_loop():
    rng = random.Random(1234)
    batches = 0
    while not stop.is_set():
        process_batch(rng)
        batches += 1


# ---- poller: waits on I/O ----------------------------------------------------------

def wait_for_message(sock, timeout):
    readable, _, _ = select.select([sock], [], [], timeout)
    if readable:
        return sock.recv(4096)
    return None


def poller_loop(sock):
    received = 0
    while not stop.is_set():
        if wait_for_message(sock, 0.5):
            received += 1


# ---- main: a cache that fills and is evicted -----------------------------------------

class ResponseCache(object):
    def __init__(self, limit_bytes):
        self.limit = limit_bytes
        self.entries = {}
        self.size = 0

    def put(self, key, payload):
        self.entries[key] = payload
        self.size += len(payload)

    def evict_all(self):
        self.entries.clear()
        self.size = 0


def render_page(n):
    # ~256 KiB: large enough for malloc to use mmap, so evicting the cache
    # gives memory back to the system and RSS visibly drops.
    body = ("<li>item %d</li>" % n) * (256 * 1024 // 20)
    return ("<html><body><ul>%s</ul></body></html>" % body).encode("utf-8")


def serve_tick(cache, n, notify):
    cache.put("page-%d" % n, render_page(n))
    if cache.size >= cache.limit:
        cache.evict_all()
    if n % 20 == 0:
        notify.send(("cache size %d" % cache.size).encode("ascii"))


def main_loop(deadline, notify):
    cache = ResponseCache(limit_bytes=64 * 1024 * 1024)   # fills in ~15 s
    n = 0
    while not stop.is_set():
        if deadline is not None and time.time() >= deadline:
            break
        serve_tick(cache, n, notify)
        n += 1
        time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser(description="A demo workload for pytop.")
    ap.add_argument("--duration", type=float, default=None, help="exit after this many seconds")
    args = ap.parse_args()
    deadline = time.time() + args.duration if args.duration else None

    ours, theirs = socket.socketpair()
    threads = [threading.Thread(target=ingest_loop, name="ingest"),
               threading.Thread(target=poller_loop, args=(theirs,), name="poller")]
    for t in threads:
        t.daemon = True
        t.start()
    print("demo running as pid %d; try: pytop -p %d" % (os.getpid(), os.getpid()))
    sys.stdout.flush()
    try:
        main_loop(deadline, ours)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for t in threads:
            t.join(2)


if __name__ == "__main__":
    main()
