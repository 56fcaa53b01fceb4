#!/usr/bin/env python3
"""The daemons' name resolution against a real name server (dnsmasq).

usage: dns.py --bin BAZEL_BIN [--keep]

In a network namespace of its own (loopback only) with its own
/etc/resolv.conf and /etc/hosts (ip netns exec mounts them from
/etc/netns/NAME/), dnsmasq answers for evl.test and two mosquitto brokers
listen on 127.0.0.2 and 127.0.0.3. Checks:

- heartbeat with --server mqtt://broker.evl.test:1883 resolves the name
  and delivers to the broker it names (127.0.0.2);
- the broker moves: the record is changed to 127.0.0.3 and the first
  broker stops; heartbeat resolves again at its next attempt and delivers
  to the second broker (a subscriber there receives its beats);
- a name in /etc/hosts is used without asking the server;
- a short name ("broker") is found through resolv.conf's search list;
- heartbeat's flight recording of all this replays on the fake kernel;
- a link-local collector ([fe80::1%evl0], a veth pair) gets beats,
  and one without its zone is refused at start;
- an unknown name says "name not found (NXDOMAIN)", a name server that is
  gone says so, and SIGTERM still ends the daemon within a second;
- with the name server gone, a daemon whose broker restarts reconnects to
  the address that connected before.

Exit status 0 when every check passes, 1 when one fails, 2 when the set-up
fails, 3 when the kernel refuses network namespaces (skipped).
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netfaults import SetupError, read  # noqa: E402


def wait_for(cond, seconds, what):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    print("  timed out after %g s waiting for %s" % (seconds, what))  # (a check fails)
    return False


class Box:
    """The namespace, its files and its processes; all gone at the end."""

    def __init__(self, work):
        self.ns = "evldns%d" % os.getpid()
        self.etc = os.path.join("/etc/netns", self.ns)
        self.work = work
        self.procs = {}
        self.made = False

    def up(self):
        r = subprocess.run(["ip", "netns", "add", self.ns], capture_output=True, text=True)
        if r.returncode != 0:
            return r.stderr.strip() or "ip netns add failed"
        self.made = True
        subprocess.run(["ip", "-n", self.ns, "link", "set", "lo", "up"], check=True)
        os.makedirs(self.etc, exist_ok=True)
        with open(os.path.join(self.etc, "resolv.conf"), "w") as f:
            f.write("# written by test/netfaults/dns.py\nsearch example.invalid evl.test\n"
                    "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        with open(os.path.join(self.etc, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n127.0.0.9 hosts-only.evl.test\n")
        return None

    def path(self, name):
        return os.path.join(self.work, name)

    def start(self, name, cmd):
        out = open(self.path(name + ".log"), "w")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns] + cmd, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = p
        return p

    def stop(self, name, sig=signal.SIGTERM):
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return p.returncode if p else None
        os.killpg(p.pid, sig)
        try:
            return p.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            return None

    def down(self):
        for name in list(self.procs):
            self.stop(name, signal.SIGKILL)
        if self.made:
            subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        shutil.rmtree(self.etc, ignore_errors=True)

    def log(self, name):
        return read(self.path(name + ".log"))

    def zone(self, addr):
        with open(self.path("zone"), "w") as f:
            f.write("%s broker.evl.test\n" % addr)

    def dnsmasq(self):
        self.start("dnsmasq", ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                               "--local=/evl.test/", "--listen-address=127.0.0.1",
                               "--bind-interfaces", "--port=53", "--addn-hosts=" + self.path("zone"),
                               "--log-queries", "--log-facility=-", "--user=root", "--pid-file=",
                               "--cache-size=0"])
        if not wait_for(lambda: "read " + self.path("zone") in self.log("dnsmasq"), 10,
                        "dnsmasq to start"):
            raise SetupError("dnsmasq did not start:\n" + self.log("dnsmasq"))

    def broker(self, name, addr):
        conf = self.path(name + ".conf")
        with open(conf, "w") as f:
            f.write("listener 1883 %s\nallow_anonymous true\nlog_dest file %s\n"
                    "log_type all\npersistence false\nuser root\n" % (addr, self.path(name + ".mlog")))
        self.start(name, ["mosquitto", "-c", conf])
        if not wait_for(lambda: "Opening ipv4 listen socket" in read(self.path(name + ".mlog")),
                        10, name):
            raise SetupError("%s did not start:\n%s" % (name, self.log(name)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    hb = os.path.join(args.bin, "apps/heartbeat/heartbeat")
    replay = os.path.join(args.bin, "test/fake/replay")
    for tool in ("dnsmasq", "mosquitto", "mosquitto_sub", "ip"):
        if shutil.which(tool) is None:
            print("dns: %s is missing (toolchains/setup.sh installs it)" % tool)
            return 2
    work = tempfile.mkdtemp(prefix="evl-dns.")
    box = Box(work)
    checks = []

    def check(ok, what):
        checks.append(ok)
        print("  %s %s" % ("ok  " if ok else "FAIL", what))

    try:
        why = box.up()
        if why is not None:
            print("dns: skipped: the kernel refuses network namespaces (%s)" % why)
            return 3
        box.zone("127.0.0.2")
        box.dnsmasq()
        box.broker("broker1", "127.0.0.2")
        box.broker("broker2", "127.0.0.3")
        common = ["--period-ms", "200", "--backoff-initial-ms", "100", "--backoff-max-ms", "500",
                  "--connect-timeout-ms", "1000"]
        rec = box.path("hb.rec")
        box.start("hb", [hb, "--server", "mqtt://broker.evl.test:1883", "--id", "dns0",
                         "--flight-recorder", rec] + common)
        check(wait_for(lambda: "delivering to mqtt://broker.evl.test:1883 (127.0.0.2:1883)" in
                       box.log("hb"), 10, "heartbeat to deliver to 127.0.0.2"),
              "a named broker is resolved and delivered to")
        check("query[A] broker.evl.test from 127.0.0.1" in box.log("dnsmasq"),
              "the question reached dnsmasq")

        # The broker moves: new record, the old broker goes.
        box.start("sub", ["mosquitto_sub", "-h", "127.0.0.3", "-p", "1883", "-t", "evl/dns0/#",
                          "-v", "-C", "3", "-W", "20"])
        time.sleep(0.3)
        box.zone("127.0.0.3")
        box.procs["dnsmasq"].send_signal(signal.SIGHUP)  # (ip netns exec execs dnsmasq)
        wait_for(lambda: box.log("dnsmasq").count("read " + box.path("zone")) >= 2, 5,
                 "dnsmasq to read the zone again")
        box.stop("broker1")
        check(wait_for(lambda: "(127.0.0.3:1883)" in box.log("hb"), 15,
                       "heartbeat to follow the move"),
              "after the move heartbeat resolves again and delivers to 127.0.0.3")
        check(wait_for(lambda: box.procs["sub"].poll() is not None, 20, "3 beats at broker2") and
              box.log("sub").count("evl/dns0/") >= 3, "the second broker received its beats")
        rc = box.stop("hb")
        check(rc == 0, "heartbeat exits 0 at SIGTERM (%s)" % rc)
        # Its flight recording (the questions and answers in it) replays.
        r = subprocess.run([replay, rec], capture_output=True, text=True, timeout=120)
        check(r.returncode == 0 and "replay: OK" in r.stdout + r.stderr,
              "its flight recording replays on the fake kernel")
        if r.returncode != 0:
            print((r.stdout + r.stderr)[-2000:])

        # No heap after start on the path a reconnect by name takes (the
        # question to dnsmasq, its answer, the MQTT session): under
        # valgrind, a run whose broker restarts 3 times makes as many
        # allocations as one whose broker stays.
        allocs = []
        asked = box.log("dnsmasq").count("query[A] broker.evl.test")
        for name, restarts in (("hb_heap0", 0), ("hb_heap3", 3)):
            box.start(name, ["valgrind", "--tool=memcheck", "--leak-check=no", hb, "--server",
                             "mqtt://broker.evl.test:1883", "--id", name, "--period-ms", "100",
                             "--backoff-initial-ms", "50", "--backoff-max-ms", "100",
                             "--run-for-ms", "12000"])
            wait_for(lambda n=name: "delivering to" in box.log(n), 20, name + " to deliver")
            for i in range(restarts):
                box.stop("broker2")
                time.sleep(0.3)
                box.broker("broker2", "127.0.0.3")
                wait_for(lambda n=name, k=i: box.log(n).count("delivering to") >= k + 2, 10,
                         name + " to deliver again")
            box.procs[name].wait(60)
            m = re.search(r"total heap usage: ([0-9,]+) allocs", box.log(name))
            allocs.append((m.group(1) if m else None, box.log(name).count("delivering to")))
        asked = box.log("dnsmasq").count("query[A] broker.evl.test") - asked
        check(allocs[0][0] is not None and allocs[0][0] == allocs[1][0] and allocs[1][1] == 4 and
              asked >= 5,
              "3 reconnects by name allocate nothing (valgrind: %s and %s allocations, %d and %d "
              "sessions, %d questions)" % (allocs[0][0], allocs[1][0], allocs[0][1], allocs[1][1],
                                          asked))

        # /etc/hosts: answered without a question.
        listener = subprocess.Popen(
            ["ip", "netns", "exec", box.ns, sys.executable, "-c",
             "import socket,time\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,"
             "socket.SO_REUSEADDR,1);s.bind(('127.0.0.9',7000));s.listen(4)\n"
             "c,_=s.accept()\nwhile c.recv(4096): pass\n"],
            start_new_session=True)
        box.procs["listener"] = listener
        box.start("hb_hosts", [hb, "--server", "tcp://hosts-only.evl.test:7000", "--id", "dns1"] +
                  common)
        check(wait_for(lambda: "(127.0.0.9:7000)" in box.log("hb_hosts"), 10,
                       "heartbeat to deliver to 127.0.0.9"),
              "a name in /etc/hosts is used")
        check("hosts-only" not in box.log("dnsmasq"), "... without asking the name server")
        box.stop("hb_hosts")

        # A short name, through the search list (example.invalid is not
        # dnsmasq's: REFUSED there means the next server, then the next name).
        box.start("hb_short", [hb, "--server", "mqtt://broker:1883", "--id", "dns4"] + common)
        check(wait_for(lambda: "delivering to mqtt://broker:1883 (127.0.0.3:1883)" in
                       box.log("hb_short"), 10, "heartbeat to deliver by a short name"),
              "a short name is found through the search list")
        box.stop("hb_short")

        # A link-local collector with its zone (an interface name): a veth
        # pair in the namespace, fe80::1 on one end (no DAD), a UDP server
        # bound there.
        for cmd in (["link", "add", "evl0", "type", "veth", "peer", "name", "evl1"],
                    ["link", "set", "evl1", "up"], ["link", "set", "evl0", "up"],
                    ["addr", "add", "fe80::1/64", "dev", "evl0", "nodad"]):
            r = subprocess.run(["ip", "-n", box.ns] + cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise SetupError("ip %s: %s" % (" ".join(cmd), r.stderr.strip()))
        udp = box.start("udp_server", [
            sys.executable, "-c",
            "import socket\ns=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM)\n"
            "s.bind(('fe80::1',9000,0,socket.if_nametoindex('evl0')))\nd,a=s.recvfrom(512)\n"
            "print(d.decode().split()[0],flush=True)\n"])
        time.sleep(0.3)
        box.start("hb_ll", [hb, "--server", "udp://[fe80::1%evl0]:9000", "--id", "dns5"] + common)
        check(wait_for(lambda: udp.poll() is not None, 10, "a beat at [fe80::1%evl0]") and
              "HB" in box.log("udp_server"), "a link-local collector with its zone gets beats")
        box.stop("hb_ll")
        box.start("hb_nozone", [hb, "--server", "udp://[fe80::1]:9000", "--id", "dns6"] + common)
        check(wait_for(lambda: box.procs["hb_nozone"].poll() is not None, 10, "exit 2") and
              box.procs["hb_nozone"].returncode == 2 and
              "needs its interface" in box.log("hb_nozone"),
              "one without its zone is refused at start (exit 2)")

        # Errors, said as such; SIGTERM still works while resolving.
        box.start("hb_bad", [hb, "--server", "mqtt://nothere.evl.test:1883", "--id", "dns2"] +
                  common)
        check(wait_for(lambda: "name not found (NXDOMAIN)" in box.log("hb_bad"), 10,
                       "the NXDOMAIN line"), "an unknown name is said to be unknown")
        t0 = time.monotonic()
        rc = box.stop("hb_bad")
        check(rc == 0 and time.monotonic() - t0 < 1.0, "... and SIGTERM ends it in under 1 s")
        # The name server goes away and the broker restarts: heartbeat
        # reconnects to the address that connected before.
        box.start("hb_kept", [hb, "--server", "mqtt://broker.evl.test:1883", "--id", "dns7"] +
                  common)
        kept = "delivering to mqtt://broker.evl.test:1883 (127.0.0.3:1883)"
        wait_for(lambda: kept in box.log("hb_kept"), 10, "hb_kept to deliver")
        box.stop("dnsmasq")
        box.stop("broker2")
        box.broker("broker2", "127.0.0.3")
        check(wait_for(lambda: "(127.0.0.3:1883, kept: the name servers failed)" in
                       box.log("hb_kept"), 15, "hb_kept to deliver again without DNS"),
              "with the name server gone, the last address that connected is used")
        box.stop("hb_kept")
        box.start("hb_noserver", [hb, "--server", "mqtt://broker.evl.test:1883", "--id", "dns3"] +
                  common)
        check(wait_for(lambda: "no name server listens" in box.log("hb_noserver"), 10,
                       "the no-server line"), "a name server that is gone is said to be gone")
        box.stop("hb_noserver")
    except SetupError as e:
        print("dns: set-up failed: %s" % e)
        return 2
    finally:
        if args.keep:
            print("dns: logs kept in %s" % work)
        box.down()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    failed = checks.count(False)
    print("dns: %d checks, %d failed" % (len(checks), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
