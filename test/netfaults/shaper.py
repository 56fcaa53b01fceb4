#!/usr/bin/env python3
"""A link between two network namespaces that loses, delays and reorders.

usage: shaper.py NS_A TAP_A NS_B TAP_B CONTROL_FIFO SEED

Makes a TAP interface in each namespace and forwards the Ethernet frames
between them, as a veth pair would, but shaped by the commands it reads
from CONTROL_FIFO, one per line:

    clean                     forward at once (the default)
    loss PCT                  drop PCT% of the frames, each direction
    delay MS JITTER_MS        hold each frame MS +- JITTER_MS (normal), so
                              frames that cross in the jitter reorder
    reorder PCT GAP_MS        hold PCT% of the frames GAP_MS longer
    quit

It does what `tc qdisc ... netem` does; the netfaults stage uses it because
the CI kernel has no sch_netem (tc says "Specified qdisc kind is unknown")
and no modules to load. Prints "ready" once both interfaces exist; the
caller gives them addresses and brings them up. Frames are counted per fate
and printed at the end.
"""
import ctypes
import fcntl
import heapq
import os
import random
import select
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000

libc = ctypes.CDLL(None, use_errno=True)


def enter(ns):
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + ns)
    finally:
        os.close(fd)


def tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def main():
    ns_a, tap_a, ns_b, tap_b, control, seed = sys.argv[1:7]
    rng = random.Random(int(seed))
    enter(ns_a)
    fd_a = tap(tap_a)
    enter(ns_b)
    fd_b = tap(tap_b)
    ctl = os.open(control, os.O_RDONLY | os.O_NONBLOCK)
    keep = os.open(control, os.O_WRONLY)  # no EOF while the writer reopens it
    print("ready", flush=True)
    mode = {"loss": 0.0, "delay": 0.0, "jitter": 0.0, "reorder": 0.0, "gap": 0.0}
    held = []  # (release time, sequence, out fd, frame)
    seq = 0
    counts = {"forwarded": 0, "lost": 0, "held": 0, "reordered": 0}
    pending = b""
    other = {fd_a: fd_b, fd_b: fd_a}
    while True:
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, _, out, frame = heapq.heappop(held)
            try:
                os.write(out, frame)
                counts["forwarded"] += 1
            except OSError:
                counts["lost"] += 1  # the interface is down
        timeout = max(0.0, held[0][0] - now) if held else 1.0
        ready, _, _ = select.select([fd_a, fd_b, ctl], [], [], timeout)
        for fd in ready:
            if fd == ctl:
                pending += os.read(ctl, 4096)
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    words = line.decode().split()
                    if not words:
                        continue
                    if words[0] == "quit":
                        print("frames: " + " ".join("%s=%d" % kv for kv in counts.items()),
                              flush=True)
                        os.close(keep)
                        return 0
                    if words[0] == "clean":
                        mode = dict.fromkeys(mode, 0.0)
                    elif words[0] == "loss":
                        mode["loss"] = float(words[1]) / 100
                    elif words[0] == "delay":
                        mode["delay"] = float(words[1]) / 1000
                        mode["jitter"] = float(words[2]) / 1000
                    elif words[0] == "reorder":
                        mode["reorder"] = float(words[1]) / 100
                        mode["gap"] = float(words[2]) / 1000
                    print("mode " + line.decode(), flush=True)
                continue
            while True:
                try:
                    frame = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    break  # the interface went down
                if rng.random() < mode["loss"]:
                    counts["lost"] += 1
                    continue
                hold = mode["delay"]
                if mode["jitter"] > 0:
                    hold = max(0.0, rng.gauss(mode["delay"], mode["jitter"]))
                if mode["reorder"] > 0 and rng.random() < mode["reorder"]:
                    hold += mode["gap"]
                    counts["reordered"] += 1
                if hold <= 0 and not held:
                    try:
                        os.write(other[fd], frame)
                        counts["forwarded"] += 1
                    except OSError:
                        counts["lost"] += 1
                    continue
                counts["held"] += 1
                seq += 1
                heapq.heappush(held, (time.monotonic() + hold, seq, other[fd], frame))


if __name__ == "__main__":
    sys.exit(main())
