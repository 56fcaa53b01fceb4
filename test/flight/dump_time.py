#!/usr/bin/env python3
"""How long a flight-recorder dump holds heartbeat's loop (a measurement,
not a test): heartbeat beats every 10 ms to a local TCP server with a ring
of KIB KiB for SECONDS, then gets SIGUSR2; prints the time from the signal
to the recording being in place (written, fsynced, renamed).

    python3 test/flight/dump_time.py HEARTBEAT_BINARY KIB SECONDS

KIB above 4096 needs a heartbeat built with --define=evl_flight_kib=KIB or more.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def main():
    binary, kib, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)

    def drain():
        c, _ = srv.accept()
        while c.recv(65536):
            pass

    threading.Thread(target=drain, daemon=True).start()
    work = tempfile.mkdtemp(prefix="evl-dump-time-")
    rec = os.path.join(work, "hb.rec")
    p = subprocess.Popen([binary, "--server", "tcp://127.0.0.1:%d" % srv.getsockname()[1],
                          "--period-ms", "10", "--flight-recorder", rec,
                          "--flight-recorder-kib", kib], stderr=subprocess.DEVNULL)
    try:
        time.sleep(seconds)
        t0 = time.monotonic()
        p.send_signal(signal.SIGUSR2)
        while not os.path.exists(rec):
            time.sleep(0.0005)
        t1 = time.monotonic()
        size = os.path.getsize(rec)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()
        for name in os.listdir(work):
            os.remove(os.path.join(work, name))
        os.rmdir(work)
    print("ring %s KiB: %d bytes written %.1f ms after SIGUSR2" % (kib, size, (t1 - t0) * 1000))


if __name__ == "__main__":
    main()
