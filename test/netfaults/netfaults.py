#!/usr/bin/env python3
"""Both daemons against real servers across a faulty (virtual) network.

usage: netfaults.py --bin BAZEL_BIN [--quick] [--keep]

Makes two network namespaces, a server side (mosquitto, influxd, and TCP
sinks for heartbeat and telemetry) and a device side (heartbeat over TCP,
telemetry over TCP, MQTT, MQTT over TLS (mosquitto's TLS listener) and
HTTP, each telemetry fed unique records on a pseudo-terminal), joined by a link that test/netfaults/shaper.py shapes,
with nftables rules on the device side. Then it runs the phases below and
checks, from what the servers received and what the daemons counted:

- the outage alarm rises exactly once per outage longer than
  --alarm-after-ms and clears when the link is back; in the phases that
  only degrade the link, it rises only if a beat really did not get
  through for that long;
- no heartbeat is sent in a burst: never more than two beats within one
  period by the sender's own clock, also right after an outage;
- every record telemetry accepted is delivered or counted dropped (or still
  buffered), the collector holds the delivered ones and at most those
  dropped after a send whose acknowledgement never came, and none
  arrives as two points: TCP and MQTT QoS 1 are at-least-once (a batch whose
  acknowledgement was lost is sent again), so a record may arrive twice,
  but only as the same line with the same stamp, which InfluxDB stores once;
  the repeats are counted and printed.

Namespaces are named after this process's pid and deleted at the end, also
on failure or interrupt; only 10.200.0.0/24 inside them and their loopback
are used. Exit status 0 when every check passes, 1 when one fails, 2 when
the set-up fails, 3 when the kernel refuses network namespaces (skipped).
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

SRV, DEV = "10.200.0.1", "10.200.0.2"
PERIOD_MS, ALARM_MS = 250, 5000
HB_PORT, TCP_PORT, MQTT_PORT, HTTP_PORT, RPC_PORT = 7001, 7002, 1883, 8086, 8088
MQTTS_PORT = 8883  # mosquitto's TLS listener (a certificate made at the start)
RATE = 20  # records per second per telemetry

# (name, seconds of fault, seconds of rest after it, hard outage?, how)
PHASES = [
    ("loss 30%", 12, 6, False, ("shaper", "loss 30")),
    ("delay 300+-100 ms", 12, 6, False, ("shaper", "delay 300 100")),
    ("reorder 25% by 50 ms", 10, 5, False, ("shaper", "reorder 25 50")),
    ("black hole (DROP)", 12, 10, True, ("nft", "drop")),
    ("refused (REJECT tcp reset)", 12, 10, True, ("nft", "reject with tcp reset")),
    ("link down", 60, 12, True, ("link", None)),
]


class SetupError(Exception):
    pass


class Net:
    def __init__(self, work, keep):
        self.tag = "evlnf%d" % os.getpid()
        self.ns_s, self.ns_d = self.tag + "s", self.tag + "d"
        self.tap_s, self.tap_d = "nfs%d" % (os.getpid() % 100000), "nfd%d" % (os.getpid() % 100000)
        self.work, self.keep = work, keep
        self.procs = []
        self.made = []
        self.shaper = None
        self.control = os.path.join(work, "shaper.ctl")

    def sh(self, *cmd, ns=None, check=True):
        full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
        r = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if check and r.returncode != 0:
            raise SetupError("%s: %s" % (" ".join(full), r.stdout.strip()))
        return r

    def start(self, name, cmd, ns=None):
        out = open(os.path.join(self.work, name + ".log"), "w")
        full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
        p = subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, p))
        return p

    def up(self):
        r = self.sh("ip", "netns", "add", self.ns_s, check=False)
        if r.returncode != 0:
            return r.stdout.strip()
        self.made.append(self.ns_s)
        self.sh("ip", "netns", "add", self.ns_d)
        self.made.append(self.ns_d)
        os.mkfifo(self.control)
        self.shaper = self.start("shaper", [sys.executable, os.path.join(HERE, "shaper.py"),
                                            self.ns_s, self.tap_s, self.ns_d, self.tap_d,
                                            self.control, "1"])
        wait_for(lambda: "ready" in read(self.log("shaper")), 10, "the shaper's TAP interfaces")
        for ns, dev, addr in ((self.ns_s, self.tap_s, SRV), (self.ns_d, self.tap_d, DEV)):
            self.sh("ip", "-n", ns, "link", "set", "lo", "up")
            self.sh("ip", "-n", ns, "addr", "add", addr + "/24", "dev", dev)
            self.sh("ip", "-n", ns, "link", "set", dev, "up")
        self.sh("nft", "add table inet evlnf", ns=self.ns_d)
        self.sh("nft", "add chain inet evlnf out { type filter hook output priority 0; }",
                ns=self.ns_d)
        return None

    def log(self, name):
        return os.path.join(self.work, name + ".log")

    def shape(self, command):
        with open(self.control, "w") as f:
            f.write(command + "\n")

    def fault(self, how, on):
        kind, arg = how
        if kind == "shaper":
            self.shape(arg if on else "clean")
        elif kind == "nft":
            if on:
                self.sh("nft", "add rule inet evlnf out ip daddr %s %s" % (SRV, arg), ns=self.ns_d)
            else:
                self.sh("nft", "flush chain inet evlnf out", ns=self.ns_d)
        elif kind == "link":
            self.sh("ip", "-n", self.ns_d, "link", "set", self.tap_d, "down" if on else "up")

    def stop(self, name, sig=signal.SIGTERM, wait=10):
        for n, p in self.procs:
            if n == name and p.poll() is None:
                os.killpg(p.pid, sig)
                try:
                    return p.wait(wait)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    return p.wait()
        return None

    def down(self):
        if self.shaper is not None and self.shaper.poll() is None:
            try:
                fd = os.open(self.control, os.O_WRONLY | os.O_NONBLOCK)
                os.write(fd, b"quit\n")
                os.close(fd)
                self.shaper.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        for name, p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(5)
                except (OSError, subprocess.TimeoutExpired):
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        for ns in self.made:
            pids = self.sh("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
            self.sh("ip", "netns", "del", ns, check=False)


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from xdr_feed import Feeder  # noqa: E402


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def wait_for(cond, seconds, what):
    end = time.time() + seconds
    while time.time() < end:
        if cond():
            return
        time.sleep(0.1)
    raise SetupError("timed out waiting for " + what)


def seq_of(line):
    m = re.search(r"temp_c=(-?[0-9.]+)", line)
    return None if m is None else round(float(m.group(1)) * 100) + 6000


def summary(log):
    text = read(log)
    i = text.rfind("records accepted=")
    if i < 0:
        return None
    fields = dict(re.findall(r"(\w+)=(\d+)", text[i:].split("\n")[0]))
    return {k: int(v) for k, v in fields.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--quick", action="store_true", help="short phases (development only)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    phases = PHASES
    if args.quick:
        phases = [(n, max(8, f // 4), max(8, r // 2), h, how) for n, f, r, h, how in PHASES]
    work = tempfile.mkdtemp(prefix="evl-netfaults.")
    net = Net(work, args.keep)

    def interrupted(signo, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, interrupted)
    status = 2
    try:
        refused = net.up()
        if refused:
            print("netfaults: skipped: the kernel refuses network namespaces (%s)" % refused)
            return 3
        status = run(net, args.bin, phases)
        return status
    except SetupError as e:
        print("netfaults: error: %s" % e)
        return 2
    except KeyboardInterrupt:
        print("netfaults: interrupted")
        return 2
    finally:
        net.down()
        if status == 0 and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("netfaults: logs in %s" % work)


def run(net, bin_dir, phases):
    w = net.work
    # The servers.
    cert, key = os.path.join(w, "cert.pem"), os.path.join(w, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(w, "mosquitto.conf"), "w") as f:
        f.write("listener %d %s\nallow_anonymous true\npersistence false\nuser root\n"
                "listener %d %s\ncertfile %s\nkeyfile %s\n"
                % (MQTT_PORT, SRV, MQTTS_PORT, SRV, cert, key))
    with open(os.path.join(w, "influxdb.conf"), "w") as f:
        f.write('reporting-disabled = true\nbind-address = "%s:%d"\n[meta]\n  dir = "%s/meta"\n'
                '[data]\n  dir = "%s/data"\n  wal-dir = "%s/wal"\n  query-log-enabled = false\n'
                '[http]\n  enabled = true\n  bind-address = "%s:%d"\n  log-enabled = false\n'
                '[logging]\n  level = "warn"\n' % (SRV, RPC_PORT, w, w, w, SRV, HTTP_PORT))
    net.start("mosquitto", ["mosquitto", "-c", os.path.join(w, "mosquitto.conf")], ns=net.ns_s)
    net.start("influxd", ["influxd", "-config", os.path.join(w, "influxdb.conf")], ns=net.ns_s)
    sink = [sys.executable, os.path.join(HERE, "sink.py"), SRV]
    net.start("hb-sink", sink + [str(HB_PORT), os.path.join(w, "beats")], ns=net.ns_s)
    net.start("tcp-sink", sink + [str(TCP_PORT), os.path.join(w, "records-tcp")], ns=net.ns_s)
    influx = ["influx", "-host", SRV, "-port", str(HTTP_PORT)]
    wait_for(lambda: net.sh(*influx, "-execute", "CREATE DATABASE evl", ns=net.ns_s,
                            check=False).returncode == 0, 60, "influxd")
    wait_for(lambda: "listening" in read(net.log("hb-sink")) and
             "listening" in read(net.log("tcp-sink")), 10, "the TCP sinks")
    for via in ("mqtt", "mqtts"):  # (the TLS listener's topics are the broker's)
        net.start(via + "-sub", ["mosquitto_sub", "-h", SRV, "-p", str(MQTT_PORT), "-q", "1",
                                 "-t", "evl/nf-%s/telemetry" % via], ns=net.ns_s)
    # The device.
    with open(os.path.join(w, "alarm.sh"), "w") as f:
        f.write('#!/bin/sh\necho "$1 $(date +%%s.%%N)" >>%s/alarms\n' % w)
    os.chmod(os.path.join(w, "alarm.sh"), 0o755)
    common = ["--backoff-initial-ms", "200", "--backoff-max-ms", "2000",
              "--connect-timeout-ms", "2000"]
    net.start("heartbeat", [os.path.join(bin_dir, "apps/heartbeat/heartbeat"),
                            "--server", "tcp://%s:%d" % (SRV, HB_PORT), "--id", "nf-hb",
                            "--period-ms", str(PERIOD_MS), "--alarm-after-ms", str(ALARM_MS),
                            "--alarm-command", os.path.join(w, "alarm.sh")] + common,
              ns=net.ns_d)
    collectors = {
        "tcp": "tcp://%s:%d" % (SRV, TCP_PORT),
        "mqtt": "mqtt://%s:%d" % (SRV, MQTT_PORT),
        "mqtts": "mqtts://%s:%d" % (SRV, MQTTS_PORT),
        "http": "http://%s:%d/write?db=evl" % (SRV, HTTP_PORT),
    }
    tls = ["--tls-ca-file", cert, "--tls-server-name", "localhost"]
    feeders = {}
    for via, url in collectors.items():
        feeders[via] = Feeder(RATE, running=False)
        net.start("telemetry-" + via, [os.path.join(bin_dir, "apps/telemetry/telemetry"),
                                       "--serial", feeders[via].path, "--baud", "115200",
                                       "--collector", url, "--id", "nf-" + via,
                                       "--batch-max", "20", "--batch-delay-ms", "200",
                                       "--health-period-ms", "3600000", "--mqtt-keepalive-s", "5",
                                       "--http-timeout-ms", "3000", "--stall-timeout-ms", "5000"]
                  + common + (tls if via == "mqtts" else []), ns=net.ns_d)
    for via in collectors:
        wait_for(lambda v=via: "reading " in read(net.log("telemetry-" + v)), 20,
                 "telemetry over " + via)
    for f in feeders.values():
        f.start()
        f.running.set()
    # The phases.
    print("  %-28s %7s %9s %12s %13s %7s" % ("phase", "fault s", "outage s", "alarm after",
                                              "cleared after", "alarms"))
    time.sleep(6)
    marks = []
    for name, fault_s, rest_s, hard, how in phases:
        start = time.time()
        net.fault(how, True)
        time.sleep(fault_s)
        end = time.time()
        net.fault(how, False)
        time.sleep(rest_s)
        marks.append((name, start, end, time.time(), hard))
    for f in feeders.values():
        f.done.set()
    # Until the collectors stop growing (bounded), then stop the daemons.
    def received():
        n = (len(read(os.path.join(w, "records-tcp"))) + len(read(net.log("mqtt-sub"))) +
             len(read(net.log("mqtts-sub"))))
        return n + len(net.sh(*influx, "-database", "evl", "-execute",
                              "SELECT count(temp_c) FROM env", ns=net.ns_s, check=False).stdout)
    last, stable_since, deadline = -1, time.time(), time.time() + 40
    while time.time() < deadline and time.time() - stable_since < 4:
        n = received()
        if n != last:
            last, stable_since = n, time.time()
        time.sleep(1)
    for name in ["heartbeat"] + ["telemetry-" + v for v in collectors]:
        rc = net.stop(name)
        if rc != 0:
            print("  %s exited with %s" % (name, rc))
    # What InfluxDB holds, before the shaper's exit takes the TAP interfaces
    # (and 10.200.0.1) away.
    csv = net.sh(*influx, "-database", "evl", "-format", "csv", "-execute",
                 "SELECT temp_c FROM env WHERE device='nf-http'", ns=net.ns_s, check=False).stdout
    net.shape("quit")  # the shaper prints its frame counts
    try:
        net.shaper.wait(5)
    except subprocess.TimeoutExpired:
        pass
    return check(net, marks, feeders, collectors, csv)


def beats(path):
    out = []
    for line in read(path).splitlines():
        m = re.match(r"([0-9.]+) HB id=\S+ seq=(\d+) uptime_ms=\d+ mono_ns=(\d+)", line)
        if m:
            out.append((float(m.group(1)), int(m.group(2)), int(m.group(3))))
    return out


def check(net, marks, feeders, collectors, csv):
    w = net.work
    ok = True
    arrivals = beats(os.path.join(w, "beats"))
    alarms = [(k, float(t)) for k, t in
              (l.split() for l in read(os.path.join(w, "alarms")).splitlines() if len(l.split()) == 2)]
    # Per phase: the longest gap between beats arriving (the outage the
    # server saw), when the alarm rose after the last beat, when it cleared
    # after the fault ended.
    for name, start, end, until, hard in marks:
        times = [t for t, _, _ in arrivals if start - 10 <= t <= until]
        before = [t for t in times if t <= start + 0.5]
        gap, gap_from = 0.0, None
        for a, b in zip(times, times[1:]):
            if b - a > gap and b >= start:
                gap, gap_from = b - a, a
        raises = [t for k, t in alarms if k == "raise" and start <= t <= until]
        clears = [t for k, t in alarms if k == "clear" and start <= t <= until]
        alarm_after = raises[0] - gap_from if raises and gap_from else None
        cleared_after = clears[-1] - end if clears else None
        verdict = ""
        if hard:
            if len(raises) != 1 or len(clears) != 1 or clears[0] < raises[0]:
                verdict = "FAIL: a hard outage must raise once and clear once"
            elif alarm_after is not None and alarm_after < ALARM_MS / 1000 - 0.5:
                verdict = "FAIL: the alarm rose early"
            # Deliveries are seen on the link's 1 s check tick: late by more
            # than that and a beat period is a missed outage start.
            elif alarm_after is not None and alarm_after > ALARM_MS / 1000 + 2.5:
                verdict = "FAIL: the alarm rose late"
        elif raises:
            # Degraded link: the daemon knows of a delivery only from the
            # peer's acknowledgement, and lost acknowledgements make it
            # learn late; an alarm is right where beats stopped arriving for
            # about alarm-after (2 s of slack), and it must clear.
            if gap < ALARM_MS / 1000 - 2 or len(raises) != len(clears):
                verdict = "FAIL: alarm without an outage that long, or not cleared"
        if not before:
            verdict = verdict or "FAIL: no beat arrived before the phase"
        ok = ok and not verdict
        print("  %-28s %7.1f %9.1f %12s %13s %7s %s" % (
            name, end - start, gap,
            "%.1f s" % alarm_after if alarm_after is not None else "-",
            "%.1f s" % cleared_after if cleared_after is not None else "-",
            "%d/%d" % (len(raises), len(clears)), verdict))
    kinds = [k for k, _ in alarms]
    if kinds.count("raise") != kinds.count("clear"):
        ok = False
        print("  FAIL: alarms raised %d, cleared %d" % (kinds.count("raise"), kinds.count("clear")))
    # No burst: by the sender's own clock, never more than two beats within
    # one period (a tick the loop ran late, then the next on its phase, is
    # two; a catch-up after an outage would be many).
    by_seq = sorted({s: m for _, s, m in arrivals}.items())
    sent = [m for _, m in by_seq]
    most = 0
    j = 0
    for i in range(len(sent)):
        while sent[i] - sent[j] >= PERIOD_MS * 1e6:
            j += 1
        most = max(most, i - j + 1)
    dup_beats = len(arrivals) - len(by_seq)
    print("  heartbeat: %d beats arrived (%d twice), at most %d sent within one period%s" % (
        len(by_seq), dup_beats, most, ", BURST" if most > 2 else ""))
    ok = ok and most <= 2 and len(by_seq) > 100
    # Records.
    # Each record as (seq, its line without the sink's arrival stamp).
    lines = {
        "tcp": [l.split(" ", 1)[1] for l in read(os.path.join(w, "records-tcp")).splitlines()
                if " env," in l],
        "mqtt": [l for l in read(net.log("mqtt-sub")).splitlines() if l.startswith("env,")],
        "mqtts": [l for l in read(net.log("mqtts-sub")).splitlines() if l.startswith("env,")],
    }
    got = {via: [seq_of(l) for l in ls] for via, ls in lines.items()}
    # A record sent twice is the same line (the same stamp): InfluxDB keeps
    # one point. Different lines for one record would be two points.
    distinct = {via: len(set(ls)) for via, ls in lines.items()}
    got["http"] = [round(float(l.split(",")[-1]) * 100) + 6000 for l in csv.splitlines()
                   if l.startswith("env,")]
    if not got["http"]:
        print("  influx answered: %s" % csv.strip()[:300])
    for via in collectors:
        s = summary(net.log("telemetry-" + via))
        seqs = [x for x in got[via] if x is not None]
        unique = set(seqs)
        verdict = ""
        if s is None:
            verdict = "FAIL: no summary"
        else:
            # (A batch still in flight at the exit is counted buffered; it
            # may have arrived.)
            if s["accepted"] != s["delivered"] + s["dropped"] + s["buffered"]:
                verdict = "FAIL: accepted != delivered + dropped + buffered"
            elif not (s["delivered"] <= len(unique) <=
                      s["delivered"] + s["buffered"] + s["after_send"]):
                # (Records dropped after a send that was never acknowledged
                # may be there: the connection broke before the ACK came.)
                verdict = "FAIL: the collector holds %d, telemetry counted %d delivered" % (
                    len(unique), s["delivered"])
            elif via in distinct and distinct[via] != len(unique):
                verdict = "FAIL: %d records arrived twice as different points" % (
                    distinct[via] - len(unique))
            elif s["accepted"] > feeders[via].fed or s["delivered"] == 0:
                verdict = "FAIL: accepted more than fed, or delivered nothing"
        ok = ok and not verdict
        print("  telemetry over %-5s fed %5d; accepted %5s delivered %5s dropped %5s buffered %3s;"
              " collector holds %5d, %d repeated %s" % (
                  via, feeders[via].fed, *(("%d" % s[k]) if s else "?" for k in
                                           ("accepted", "delivered", "dropped", "buffered")),
                  len(unique), len(seqs) - len(unique), verdict))
    print("  link: %s" % (read(net.log("shaper")).strip().splitlines() or ["?"])[-1])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
