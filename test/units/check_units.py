#!/usr/bin/env python3
"""The daemons' systemd units (apps/*/*.service), read as systemd reads
them: every line blank, a comment, a [Section] or Key=Value, in the
sections a service unit has, with the keys systemd knows there. A unit
once went through clang-format as if it were C++ ("[Unit] Description =
evl heartbeat ... After = network - online.target") and nothing noticed.
Exit 0 when all are sound, 1 with one line per fault."""
import pathlib
import re
import sys

SECTIONS = {
    "Unit": {"Description", "After", "Wants", "Requires", "Before", "Documentation"},
    "Service": {
        "Type", "NotifyAccess", "ExecStart", "ExecReload", "WatchdogSec", "Restart",
        "RestartSec", "KillMode", "SupplementaryGroups", "StateDirectory", "User", "Group",
        "Environment", "TimeoutStopSec",
    },
    "Install": {"WantedBy"},
}
REQUIRED = {("Service", "ExecStart"), ("Service", "Type"), ("Install", "WantedBy")}


def check(path):
    faults = []
    section = None
    seen = set()
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith(";"):
            continue
        m = re.fullmatch(r"\[([A-Za-z]+)\]", line)
        if m:
            section = m.group(1)
            if section not in SECTIONS:
                faults.append(f"{path}:{n}: unknown section [{section}]")
            continue
        m = re.fullmatch(r"([A-Za-z]+)=(\S.*)", line)
        if not m:
            faults.append(f"{path}:{n}: not Key=Value: {raw!r}")
            continue
        key = m.group(1)
        if section is None:
            faults.append(f"{path}:{n}: {key}= before any section")
        elif section in SECTIONS and key not in SECTIONS[section]:
            faults.append(f"{path}:{n}: {key}= is not a key of [{section}] here")
        seen.add((section, key))
        if key.startswith("Exec") and not m.group(2).startswith("/"):
            faults.append(f"{path}:{n}: {key}= needs an absolute path")
    for section, key in sorted(REQUIRED - seen):
        faults.append(f"{path}: no {key}= in [{section}]")
    return faults


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    units = sorted(root.glob("apps/*/*.service"))
    if not units:
        print("no unit files under apps/")
        return 1
    faults = [f for u in units for f in check(u)]
    for f in faults:
        print(f)
    if not faults:
        print(f"{len(units)} unit files sound")
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
