"""Unique NMEA XDR records on a pseudo-terminal: telemetry's sensor in the
scripts that run the real daemon (test/netfaults, test/flight)."""

import os
import threading
import time


def xdr(seq):
    """The seq-th record: a temperature of (seq - 6000) / 100 degrees."""
    body = "IIXDR,C,%.2f,C,T" % ((seq - 6000) / 100.0)
    sum_ = 0
    for ch in body:
        sum_ ^= ord(ch)
    return ("$%s*%02X\r\n" % (body, sum_)).encode()


class Feeder(threading.Thread):
    """Writes `rate` records a second to a pty (path: its slave) once
    `running` is set, until `done` is; fed counts them. A record the pty
    cannot take now (telemetry not reading) is tried again later."""

    def __init__(self, rate, running=True):
        super().__init__(daemon=True)
        self.rate = rate
        self.master, self.slave = os.openpty()
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.fed = 0
        self.running = threading.Event()
        if running:
            self.running.set()
        self.done = threading.Event()

    def run(self):
        self.running.wait()
        next_at = time.monotonic()
        while not self.done.is_set():
            try:
                os.write(self.master, xdr(self.fed))
                self.fed += 1
            except BlockingIOError:
                pass
            next_at += 1.0 / self.rate
            time.sleep(max(0.0, next_at - time.monotonic()))
