#!/usr/bin/env python3
"""Records heartbeat and telemetry on the real kernel, replays them on the host.

Each daemon runs on loopback against a server this script owns (a TCP
collector that acknowledges beats; Debian's mosquitto and influxd, started
on free ports with configs written here), through an outage (the server
goes away for a while, then comes back), with --flight-recorder. Recordings are taken
at the alarm (heartbeat), on SIGUSR2 and at exit. Each is replayed with
//test/fake:replay, which must print exactly the daemon's log lines (the
counters are in the last one) and end with "replay: OK". A copy of the exit
recording with one option changed (--period-ms / --batch-delay-ms) must be
reported as diverging at the first call that differs: found here by reading
the recording, independently of the replay.

--run-under runs the recording daemons under an emulator (qemu-arm ...):
recordings made for armv7 or aarch64 replay on the x86-64 host.

Exit status: 0 pass, 1 fail, 2 setup error.
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from xdr_feed import Feeder  # noqa: E402

HEADER = struct.Struct("<8sII32s16s64s16s32sQQQIIIIQ")  # version 2
RECORD = struct.Struct("<IIHBBIq")
KWRITE, KSOCKET, KSENDTO, KRUNINCHILD = 2, 12, 22, 46  # flight::Call
OUTAGE = {"heartbeat": " down: ", "telemetry": " unreachable: "}  # in the outage's log line


class SetupError(Exception):
    pass


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server(threading.Thread):
    """A TCP server on loopback: reads lines, answers HB lines with ACKs.
    down() closes the listener and every connection; up() listens again."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.lock = threading.Lock()
        self.listener = None
        self.conns = []
        self.lines = 0
        self.stop = threading.Event()

    def up(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(8)
        s.settimeout(0.05)
        with self.lock:
            self.listener = s

    def down(self):
        with self.lock:
            for c in self.conns:
                c.close()
            self.conns = []
            if self.listener is not None:
                self.listener.close()
            self.listener = None

    def run(self):
        bufs = {}
        while not self.stop.is_set():
            with self.lock:
                listener = self.listener
                conns = list(self.conns)
            if listener is not None:
                try:
                    c, _ = listener.accept()
                    c.setblocking(False)
                    with self.lock:
                        self.conns.append(c)
                except (socket.timeout, OSError):
                    pass
            else:
                time.sleep(0.05)
            for c in conns:
                try:
                    data = c.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    continue
                buf = bufs.get(c, b"") + data
                *lines, rest = buf.split(b"\n")
                bufs[c] = rest
                for line in lines:
                    self.lines += 1
                    if line.startswith(b"HB "):
                        seq = line.split(b"seq=")[1].split(b" ")[0]
                        try:
                            c.send(b"ACK seq=" + seq + b"\n")
                        except OSError:
                            pass


class Influx:
    """Debian's influxd on free loopback ports with a config written here,
    its data in `work`; down() stops it (SIGTERM), up() starts it again on
    the same ports and data. Stopped on the way out by main()."""

    def __init__(self, work):
        self.work = work
        self.port = free_port()
        self.stop = threading.Event()  # as Server's, for main()'s clean-up
        self.proc = None
        self.starts = 0
        self.conf = os.path.join(work, "influxdb.conf")
        with open(self.conf, "w") as f:
            f.write('reporting-disabled = true\nbind-address = "127.0.0.1:%d"\n'
                    '[meta]\n  dir = "%s/meta"\n[data]\n  dir = "%s/data"\n'
                    '  wal-dir = "%s/wal"\n  query-log-enabled = false\n'
                    '[http]\n  enabled = true\n  bind-address = "127.0.0.1:%d"\n'
                    '  log-enabled = false\n[logging]\n  level = "warn"\n' %
                    (free_port(), work, work, work, self.port))

    def up(self):
        self.starts += 1
        with open(os.path.join(self.work, "influxd-%d.log" % self.starts), "w") as log:
            self.proc = subprocess.Popen(["influxd", "-config", self.conf], stdout=log,
                                         stderr=subprocess.STDOUT)
        wait_for("influxd", lambda: port_open(self.port), 60)

    def down(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def query(self, q, post=False):
        url = "http://127.0.0.1:%d/query?db=evl&q=%s" % (self.port, urllib.parse.quote(q))
        req = urllib.request.Request(url, data=b"" if post else None)
        with urllib.request.urlopen(req, timeout=20) as r:
            return json.loads(r.read().decode())


def header(path):
    with open(path, "rb") as f:
        data = f.read()
    h = HEADER.unpack_from(data)
    return data, {
        "reason": h[7].rstrip(b"\0").decode(),
        "arch": h[6].rstrip(b"\0").decode(),
        "first_seq": h[8],
        "records": h[9],
        "argv_bytes": h[12],
        "env_bytes": h[13],
        "ring_bytes": h[14],
        "pinned_records": h[15],
    }


def records(path):
    """(call, result, args) of every record."""
    data, h = header(path)
    pos = HEADER.size + h["argv_bytes"] + h["env_bytes"]
    out = []
    for _ in range(h["records"]):
        size, _seq, call, nargs, _flags, _out_len, result = RECORD.unpack_from(data, pos)
        args = struct.unpack_from("<%dq" % nargs, data, pos + RECORD.size)
        out.append((call, result, args))
        pos += size
    return out


def first_send(path, fd):
    """Index of the first recorded write or send to fd (None: the first
    socket's fd)."""
    recs = records(path)
    if fd is None:
        fd = next(r for c, r, _ in recs if c == KSOCKET)
    return next(i for i, (c, _, a) in enumerate(recs) if c in (KWRITE, KSENDTO) and a[0] == fd)


def wait_for(what, cond, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise SetupError("timed out waiting for " + what)


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def replay(replay_bin, rec):
    p = subprocess.run([replay_bin, rec], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def app_lines(text, prog):
    return [l for l in text.splitlines() if l.startswith(prog + ": ")]


class Run:
    def __init__(self, work, label):
        self.work = work
        self.label = label
        self.failures = []

    def check(self, ok, what):
        print("  %s: %s" % ("ok  " if ok else "FAIL", what))
        if not ok:
            self.failures.append(what)


@contextlib.contextmanager
def running(argv, log):
    """Runs argv with stderr to log; killed on the way out if still running."""
    with open(log, "w") as err:
        p = subprocess.Popen(argv, stderr=err, stdout=subprocess.DEVNULL)
    try:
        yield p
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def record(run, prog, argv, server, rec, log, feeder=None):
    """Runs prog through an outage; returns the saved recordings by reason."""
    saved = {}

    def save_when(reason, timeout):
        def ready():
            try:
                return header(rec)[1]["reason"] == reason
            except (FileNotFoundError, struct.error):
                return False

        wait_for("the %s recording" % reason, ready, timeout)
        dst = rec + "." + reason
        shutil.copyfile(rec, dst)
        saved[reason] = dst

    with running(argv, log) as p:
        wait_for(prog + " delivering", lambda: "delivering" in read(log), 20)
        time.sleep(1.0)
        server.down()
        if prog == "heartbeat":
            save_when("alarm", 20)
        else:
            wait_for("telemetry to see the outage", lambda: OUTAGE[prog] in read(log), 20)
        time.sleep(1.0)
        server.up()
        wait_for(prog + " delivering again",
                 lambda: read(log).count("delivering") >= 2, 30)
        time.sleep(0.5)
        p.send_signal(signal.SIGUSR2)
        save_when("SIGUSR2", 20)
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=20)
        run.check(rc == 0, "%s exits 0 on SIGTERM (got %s)" % (prog, rc))
        save_when("exit", 5)
    return saved


def check_replays(run, prog, replay_bin, saved, log, change, first_fd):
    daemon = app_lines(read(log), prog)
    run.check(any(OUTAGE[prog] in l for l in daemon), "%s logged the outage" % prog)
    for reason, rec in sorted(saved.items()):
        _, h = header(rec)
        rc, out, err = replay(replay_bin, rec)
        replayed = app_lines(err, prog)
        # The daemon's lines up to the one announcing this recording.
        mark = next((i for i, l in enumerate(daemon) if "(%s)" % reason in l and "flight" in l),
                    None)
        want = daemon if reason == "exit" else daemon[: (mark + 1) if mark is not None else 0]
        run.check(rc == 0 and "replay: OK" in err,
                  "%s %s recording (%s, %d calls) replays: rc %d, %s" %
                  (prog, reason, h["arch"], h["records"], rc,
                   (err.strip().splitlines() or ["(no output)"])[-1]))
        run.check(replayed == want and len(want) > 2,
                  "%s %s replay prints the daemon's %d log lines" % (prog, reason, len(want)))
        if replayed != want:
            for a, b in zip(want + ["<none>"] * 3, replayed + ["<none>"] * 3):
                if a != b:
                    print("    daemon: %s\n    replay: %s" % (a, b))
                    break
    # What is not a whole recording is refused with the reason (exit 5).
    rc, out, err = replay(replay_bin, rec + ".missing")
    run.check(rc == 5 and "cannot read" in err, "a missing recording is exit 5: %s" % err.strip())
    cut = rec + ".cut"
    with open(cut, "wb") as f:
        f.write(header(rec)[0][:-8])
    rc, out, err = replay(replay_bin, cut)
    run.check(rc == 5 and "cut short" in err, "a cut recording is exit 5: %s" % err.strip())
    # Recorded by another evl version: the replay says so first.
    rec = saved["exit"]
    data, _ = header(rec)
    other = rec + ".other-version"
    with open(other, "wb") as f:
        f.write(data[:48] + b"0.0.9".ljust(16, b"\0") + data[64:])
    rc, out, err = replay(replay_bin, other)
    run.check("warning: recorded by evl 0.0.9, replayed by evl" in err,
              "%s recording of another evl version is flagged" % prog)
    # Built from other sources (the build string's source id): flagged too,
    # and a recording of these sources is not.
    build_at = 8 + 4 + 4 + 32 + 16  # magic, version, header_bytes, program, evl_version
    build = data[build_at:build_at + 64]
    src_at = build.find(b" src=")
    other = rec + ".other-source"
    with open(other, "wb") as f:
        f.write(data[:build_at + src_at + 5] + b"0000000000000000" +
                data[build_at + src_at + 21:])
    rc, out, err = replay(replay_bin, other)
    rc0, _, err0 = replay(replay_bin, rec)
    run.check(src_at > 0 and "warning: recorded by a build of other sources (src=0000000000000000"
              in err and "other sources" not in err0,
              "%s recording built from other sources is flagged: %s" %
              (prog, next((l for l in err.splitlines() if "other sources" in l), "(not flagged)")))
    # The same recording with one option changed: the first call that
    # differs is the first write of the changed value (heartbeat: its first
    # log line names the period; telemetry: its first batch to the collector
    # carries the device id).
    rec = saved["exit"]
    data, _ = header(rec)
    old, new = change
    changed = rec + ".changed"
    with open(changed, "wb") as f:
        f.write(data.replace(old, new, 1))
    expect = first_send(rec, first_fd)
    rc, out, err = replay(replay_bin, changed)
    run.check(rc == 3 and ("DIVERGED at call #%d: the recording has " % expect) in err,
              "%s with %s for %s diverges at call #%s, where it first sends the value: %s" %
              (prog, new.decode(), old.decode(), expect,
               (err.strip().splitlines() or ["(no output)"])[-1][:160]))


def check_wrapped(run, prog, replay_bin, rec, daemon, reason):
    """A recording whose ring wrapped replays from a snapshot: the daemon's
    first log line, then the last ones up to the recording's end."""
    _, h = header(rec)
    rc, out, err = replay(replay_bin, rec)
    mark = next((i for i, l in enumerate(daemon) if "(%s)" % reason in l and "flight" in l), None)
    want = daemon if reason == "exit" else daemon[: (mark + 1) if mark is not None else 0]
    replayed = app_lines(err, prog)
    tail = want[len(want) - (len(replayed) - 1):] if len(replayed) > 1 else []
    kept = h["records"] - h["pinned_records"]
    run.check(rc == 0 and "replay: OK" in err and h["first_seq"] > h["pinned_records"] > 0 and
              "the program's state is restored from the snapshot at #" in err and
              len(replayed) >= 2 and replayed == want[:1] + tail,
              "%s %s recording through a small ring (%d of %d calls kept) replays from a "
              "snapshot: rc %d, its first log line and its last %d of %d; %s" %
              (prog, reason, kept, h["first_seq"] + kept, rc, len(replayed) - 1, len(want),
               (err.strip().splitlines() or ["(no output)"])[-1][:150]))
    if replayed != want[:1] + tail:
        print("    daemon: %s\n    replay: %s" % (want, replayed))


def telemetry_wrapped(run, replay_bin, argv, server, work, name, old_rec):
    """telemetry fed 200 records a second through an outage of server,
    recording into NAME.rec (argv's recording old_rec before); both of its
    recordings must replay from snapshots. Returns the running feeder."""
    feeder = Feeder(200)
    feeder.start()
    rec = os.path.join(work, name + ".rec")
    log = os.path.join(work, name + ".log")
    argv[argv.index(os.path.join(work, old_rec))] = rec
    argv[argv.index("--serial") + 1] = feeder.path
    saved = record(run, "telemetry", argv, server, rec, log, feeder)
    daemon = app_lines(read(log), "telemetry")
    for reason in ("SIGUSR2", "exit"):
        check_wrapped(run, "telemetry", replay_bin, saved[reason], daemon, reason)
    return feeder


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="bazel-bin of the recording daemons")
    ap.add_argument("--replay", required=True, help="the host's replay binary")
    ap.add_argument("--run-under", default="", help="emulator command for the daemons")
    ap.add_argument("--label", default="host")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    under = args.run_under.split()
    work = tempfile.mkdtemp(prefix="evl-flight-")
    run = Run(work, args.label)
    print("flight recorder, %s: recording on the real kernel, replaying on the host (%s)" %
          (args.label, work))
    servers = []
    feeder = None
    try:
        # heartbeat: beats every 100 ms, alarm after 800 ms without delivery.
        port = free_port()
        server = Server(port)
        server.up()
        server.start()
        servers.append(server)
        rec = os.path.join(work, "hb.rec")
        log = os.path.join(work, "heartbeat.log")
        argv = under + [os.path.join(args.bin, "apps/heartbeat/heartbeat"),
                        "--server", "tcp://127.0.0.1:%d" % port, "--period-ms", "100",
                        "--alarm-after-ms", "800", "--backoff-initial-ms", "100", "--backoff-max-ms", "300",
                        "--flight-recorder", rec]
        saved = record(run, "heartbeat", argv, server, rec, log)
        check_replays(run, "heartbeat", args.replay, saved, log, (b"100", b"101"), 2)

        # A ring too small for the run, through an outage: the daemon's
        # start is pinned and its state is snapshotted at each ring block;
        # the replay runs the start (its first log line), restores the
        # oldest kept snapshot and replays on from there to the exit: the
        # daemon's last log lines (the reconnection among them), as logged.
        rec = os.path.join(work, "small.rec")
        log = os.path.join(work, "small.log")
        argv = under + [os.path.join(args.bin, "apps/heartbeat/heartbeat"),
                        "--server", "tcp://127.0.0.1:%d" % port, "--period-ms", "10",
                        "--alarm-after-ms", "200", "--backoff-initial-ms", "50",
                        "--backoff-max-ms", "100", "--flight-recorder", rec,
                        "--flight-recorder-kib", "128"]
        with running(argv, log) as p:
            wait_for("heartbeat delivering", lambda: "delivering" in read(log), 20)
            time.sleep(1.5)
            server.down()
            time.sleep(0.4)
            server.up()
            wait_for("heartbeat delivering again", lambda: read(log).count("delivering") >= 2, 30)
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=20)
        _, h = header(rec)
        rc, out, err = replay(args.replay, rec)
        daemon = app_lines(read(log), "heartbeat")
        replayed = app_lines(err, "heartbeat")
        kept = h["records"] - h["pinned_records"]
        tail = daemon[len(daemon) - (len(replayed) - 1):] if len(replayed) > 1 else []
        run.check(rc == 0 and "replay: OK" in err and h["pinned_records"] > 0 and
                  h["first_seq"] > h["pinned_records"] and
                  "the program's state is restored from the snapshot at #" in err,
                  "a wrapped ring (its start of %d calls pinned, %d of %d calls kept) replays the "
                  "start, restores a snapshot and replays on to the exit: rc %d, %s" %
                  (h["pinned_records"], kept, h["first_seq"] + kept, rc,
                   (err.strip().splitlines() or ["(no output)"])[-1]))
        run.check(len(replayed) > 3 and replayed == daemon[:1] + tail and
                  any("delivering" in l for l in tail) and len(replayed) < len(daemon),
                  "its replay prints the daemon's first log line, then its last %d (of %d), "
                  "the reconnection among them" % (len(replayed) - 1, len(daemon)))
        if len(replayed) <= 1 or replayed != daemon[:1] + tail:
            print("    daemon: %s\n    replay: %s" % (daemon, replayed))
        # The same recording by a binary that cannot restore its state: the
        # replay runs the start and stops where the ring lost calls,
        # printing the kept ones from a whole loop iteration.
        nosnap = rec + ".nosnap"
        data, _ = header(rec)
        with open(nosnap, "wb") as f:
            f.write(re.sub(rb"EAS[1-9]", b"EAS0", data))  # the daemon state's magic
        rc, out, err = replay(args.replay, nosnap)
        lines = out.splitlines()
        run.check(rc == 6 and len(lines) > 2 and
                  lines[0].startswith("replay: the ring of %d bytes wrapped: it kept the program's "
                                      "first %d calls (its start) and the last %d of %d" %
                                      (h["ring_bytes"], h["pinned_records"], kept,
                                       h["first_seq"] + kept)) and
                  app_lines(err, "heartbeat") == daemon[:1] and
                  "the program could not restore its snapshot" in err,
                  "a snapshot the program cannot restore: the start, then the kept calls printed: "
                  "rc %d, %s" % (rc, (err.strip().splitlines() or ["(no output)"])[-1][-120:]))

        # The same over MQTT, to Debian's mosquitto on a free loopback port,
        # which is stopped and started again: the replay restores the MQTT
        # session (its packet ids, the messages in flight, the keepalive).
        mport = free_port()
        conf = os.path.join(work, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "user root\n" % mport)
        rec = os.path.join(work, "mqtt.rec")
        log = os.path.join(work, "heartbeat-mqtt.log")
        argv = under + [os.path.join(args.bin, "apps/heartbeat/heartbeat"),
                        "--server", "mqtt://127.0.0.1:%d" % mport, "--period-ms", "10",
                        "--alarm-after-ms", "200", "--backoff-initial-ms", "50",
                        "--backoff-max-ms", "100", "--id", "board-7", "--flight-recorder", rec,
                        "--flight-recorder-kib", "128"]
        with running(["mosquitto", "-c", conf], os.path.join(work, "mosquitto.log")) as broker:
            wait_for("mosquitto", lambda: port_open(mport), 10)
            with running(argv, log) as p:
                wait_for("heartbeat delivering", lambda: "delivering" in read(log), 20)
                time.sleep(1.5)
                broker.terminate()
                broker.wait(timeout=10)
                time.sleep(0.4)
                with running(["mosquitto", "-c", conf], os.path.join(work, "mosquitto2.log")):
                    wait_for("mosquitto again", lambda: port_open(mport), 10)
                    wait_for("heartbeat delivering again",
                             lambda: read(log).count("delivering") >= 2, 30)
                    p.send_signal(signal.SIGTERM)
                    rc = p.wait(timeout=20)
        run.check(rc == 0, "heartbeat over MQTT exits 0 on SIGTERM (got %s)" % rc)
        check_wrapped(run, "heartbeat", args.replay, rec, app_lines(read(log), "heartbeat"),
                      "exit")

        # mqtts://: mosquitto's TLS listener with a certificate made here.
        # mbedTLS's random bytes and clock readings go through the seam, so
        # the replay makes the same hello and decrypts the recorded answers.
        tport = free_port()
        key, cert = os.path.join(work, "key.pem"), os.path.join(work, "cert.pem")
        made = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                               "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
                               cert, "-days", "2", "-subj", "/CN=localhost"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        run.check(made == 0, "openssl made the broker's certificate")
        tconf = os.path.join(work, "mosquitto-tls.conf")
        with open(tconf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "user root\ncertfile %s\nkeyfile %s\n" % (tport, cert, key))
        rec = os.path.join(work, "mqtts.rec")
        log = os.path.join(work, "heartbeat-mqtts.log")
        argv = under + [os.path.join(args.bin, "apps/heartbeat/heartbeat"),
                        "--server", "mqtts://127.0.0.1:%d" % tport, "--tls-ca-file", cert,
                        "--tls-server-name", "localhost", "--period-ms", "50", "--id", "board-8",
                        "--flight-recorder", rec]
        with running(["mosquitto", "-c", tconf], os.path.join(work, "mosquitto-tls.log")):
            wait_for("mosquitto (TLS)", lambda: port_open(tport), 10)
            with running(argv, log) as p:
                wait_for("heartbeat delivering over mqtts", lambda: "delivering" in read(log), 30)
                time.sleep(1.0)
                p.send_signal(signal.SIGTERM)
                rc = p.wait(timeout=20)
        run.check(rc == 0, "heartbeat over mqtts exits 0 on SIGTERM (got %s)" % rc)
        daemon = app_lines(read(log), "heartbeat")
        _, h = header(rec)
        rc, out, err = replay(args.replay, rec)
        run.check(rc == 0 and "replay: OK" in err and app_lines(err, "heartbeat") == daemon and
                  any("delivering to mqtts://" in l for l in daemon),
                  "heartbeat over mqtts (%s, %d calls) replays with its %d log lines: rc %d, %s" %
                  (h["arch"], h["records"], len(daemon), rc,
                   (err.strip().splitlines() or ["(no output)"])[-1][:150]))

        # A crash: SIGSEGV sent to heartbeat while it delivers. The handler
        # writes the ring and the daemon still dies of SIGSEGV; the replay
        # prints its log lines and says the crash did not reproduce (the
        # signal came from outside: the replayed code goes on).
        rec = os.path.join(work, "crash.rec")
        log = os.path.join(work, "crash.log")
        argv = under + [os.path.join(args.bin, "apps/heartbeat/heartbeat"),
                        "--server", "tcp://127.0.0.1:%d" % port, "--period-ms", "100",
                        "--flight-recorder", rec]
        with running(argv, log) as p:
            wait_for("heartbeat delivering", lambda: "delivering" in read(log), 20)
            time.sleep(0.3)
            p.send_signal(signal.SIGSEGV)
            rc = p.wait(timeout=20)
        run.check(rc == -signal.SIGSEGV, "heartbeat dies of SIGSEGV with the recorder on (rc %s)" % rc)
        try:
            _, h = header(rec)
        except (FileNotFoundError, struct.error):
            h = {"reason": "(no recording)", "records": 0}
        run.check(h["reason"] == "SIGSEGV",
                  "the crash wrote the recording (reason %s, %d calls)" % (h["reason"], h["records"]))
        rc, out, err = replay(args.replay, rec)
        daemon = app_lines(read(log), "heartbeat")
        run.check(rc == 3 and "the board crashed (SIGSEGV) after the recorded calls" in err and
                  "the crash did not reproduce" in err and app_lines(err, "heartbeat") == daemon and
                  len(daemon) >= 2,
                  "the crash recording replays the daemon's %d log lines, then says the crash did "
                  "not reproduce: rc %d, %s" % (len(daemon), rc,
                                               (err.strip().splitlines() or ["(no output)"])[-1][:120]))

        # telemetry: XDR records from a pty to a TCP collector.
        port = free_port()
        server = Server(port)
        server.up()
        server.start()
        servers.append(server)
        feeder = Feeder(10)
        feeder.start()
        rec = os.path.join(work, "tm.rec")
        log = os.path.join(work, "telemetry.log")
        argv = under + [os.path.join(args.bin, "apps/telemetry/telemetry"),
                        "--serial", feeder.path, "--collector", "tcp://127.0.0.1:%d" % port,
                        "--batch-delay-ms", "200", "--id", "board-7", "--backoff-initial-ms", "100", "--backoff-max-ms", "300",
                        "--flight-recorder", rec, "--flight-recorder-kib", "4096"]
        saved = record(run, "telemetry", argv, server, rec, log, feeder)
        check_replays(run, "telemetry", args.replay, saved, log, (b"board-7", b"board-8"),
                      None)

        # telemetry whose collector never answers: its spool is written
        # every second by a child process (hal::run_in_child, recorded as
        # its pid; the child's own calls are not), and the recording of
        # the run replays with the daemon's lines (its checkpoints counted).
        spool_rec = os.path.join(work, "tm-spool.rec")
        spool_log = os.path.join(work, "tm-spool.log")
        spool = os.path.join(work, "tm.spool")
        spool_argv = under + [os.path.join(args.bin, "apps/telemetry/telemetry"),
                              "--serial", feeder.path, "--collector", "tcp://127.0.0.1:%d" % free_port(),
                              "--id", "board-7", "--spool", spool, "--spool-every-s", "1",
                              "--flight-recorder", spool_rec]
        with running(spool_argv, spool_log) as p:
            wait_for("a spool checkpoint", lambda: os.path.exists(spool), 30)
            time.sleep(1.5)
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=20)
        run.check(rc == 0, "telemetry with --spool-every-s exits 0 on SIGTERM (got %s)" % rc)
        daemon = app_lines(read(spool_log), "telemetry")
        calls = [c for c, r, _ in records(spool_rec) if c == KRUNINCHILD and r == 0]
        summary = next((l for l in daemon if "checkpoints=" in l), "")
        run.check(len(calls) >= 1 and "checkpoints=0 " not in summary,
                  "its recording holds %d run_in_child calls (%s)" %
                  (len(calls), summary[summary.find("spool in"):]))
        rc, out, err = replay(args.replay, spool_rec)
        run.check(rc == 0 and "replay: OK" in err and app_lines(err, "telemetry") == daemon,
                  "the recording replays with the daemon's %d log lines: rc %d, %s" %
                  (len(daemon), rc, (err.strip().splitlines() or ["(no output)"])[-1][:100]))

        # The same through a 96 KiB ring (one block pinned, two turning):
        # both recordings wrap, and each replays from a snapshot of the
        # daemon's state (the store, the serial reader, the connection).
        # 200 records a second, batches every 50 ms: about 5 s wrap it.
        feeder.done.set()
        argv[argv.index("4096")] = "96"
        argv[argv.index("200")] = "50"  # --batch-delay-ms
        feeder = telemetry_wrapped(run, args.replay, argv, server, work, "tm-small", "tm.rec")

        # The same over HTTP to Debian's influxd (InfluxDB's line protocol),
        # which is stopped and started again: the snapshots carry the HTTP
        # transport's state (the batch in flight, the connection).
        influx = Influx(work)
        servers.append(influx)
        influx.up()
        influx.query("CREATE DATABASE evl", post=True)
        feeder.done.set()
        argv[argv.index("--collector") + 1] = "http://127.0.0.1:%d/write?db=evl" % influx.port
        feeder = telemetry_wrapped(run, args.replay, argv, influx, work, "tm-http", "tm-small.rec")
        series = influx.query("SELECT count(temp_c) FROM env")["results"][0].get("series", [])
        stored = series[0]["values"][0][1] if series else 0
        run.check(stored > 0, "influxd stored %d points from telemetry" % stored)
    except SetupError as e:
        print("flight: setup error: %s" % e)
        for name in ("heartbeat.log", "telemetry.log"):
            print("--- %s\n%s" % (name, read(os.path.join(work, name))[-3000:]))
        return 2
    finally:
        for s in servers:
            s.stop.set()
            s.down()
        if feeder is not None:
            feeder.done.set()
        if not args.keep and not run.failures:
            shutil.rmtree(work, ignore_errors=True)
    if run.failures:
        print("flight, %s: %d check(s) failed; recordings kept in %s" %
              (args.label, len(run.failures), work))
        return 1
    print("flight, %s: all checks passed" % args.label)
    return 0


if __name__ == "__main__":
    sys.exit(main())
