#!/usr/bin/env python3
"""Coverage per folder from gcovr's JSON reports, checked against floors.

usage: floors.py SUMMARY.json FULL.json

Prints one row per folder (loop/, hal/, apps/) with line and branch
coverage, and exits 1 if a folder is under its floor (loop/ and hal/ at
least 95% of lines and 85% of branches, apps/ at least 90% of lines) or if
a line of loop/ or hal/ is neither run by a test nor excluded in the source
with a GCOVR_EXCL marker that says why (those two folders are at 100% of
lines: a new untested line fails the stage, not only a drop below 95%).
"""
import json
import sys

FLOORS = {"loop": (95.0, 85.0), "hal": (95.0, 85.0), "apps": (90.0, None)}
EVERY_LINE = ("loop/", "hal/")


def main():
    with open(sys.argv[1]) as f:
        summary = json.load(f)
    totals = {name: [0, 0, 0, 0] for name in FLOORS}
    for entry in summary["files"]:
        folder = entry["filename"].split("/")[0]
        if folder not in totals:
            continue
        t = totals[folder]
        t[0] += entry["line_covered"]
        t[1] += entry["line_total"]
        t[2] += entry["branch_covered"]
        t[3] += entry["branch_total"]
    ok = True
    print("  %-6s %-24s %-24s %s" % ("folder", "lines", "branches", "floors (lines, branches)"))
    for name, (line_floor, branch_floor) in FLOORS.items():
        lc, lt, bc, bt = totals[name]
        if lt == 0:
            print("  %-6s no coverage data" % (name + "/"))
            ok = False
            continue
        lp = 100.0 * lc / lt
        bp = 100.0 * bc / bt if bt else 100.0
        short = lp < line_floor or (branch_floor is not None and bp < branch_floor)
        ok = ok and not short
        print("  %-6s %5.1f%% (%5d of %5d)    %5.1f%% (%5d of %5d)    %s%%, %s%s" % (
            name + "/", lp, lc, lt, bp, bc, bt, line_floor,
            "%s%%" % branch_floor if branch_floor is not None else "-",
            "   UNDER THE FLOOR" if short else ""))
    with open(sys.argv[2]) as f:
        full = json.load(f)
    # entry["file"] is gcovr's JSON key for the source path (no program runs).
    for entry in full["files"]:
        if not entry["file"].startswith(EVERY_LINE):
            continue
        missed = [line["line_number"] for line in entry["lines"]
                  if line["count"] == 0 and not line.get("gcovr/noncode")
                  and not line.get("gcovr/excluded")]
        if missed:
            ok = False
            print("  UNTESTED in %s: lines %s" % (entry["file"], ", ".join(map(str, missed))))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
