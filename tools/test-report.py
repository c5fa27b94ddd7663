#!/usr/bin/python3
"""Reads meson's testlog.json: prints the last lines of each failing test's own output and one line
per skipped test ("SKIPPED BUILD/NAME: reason", the reason from the test's "SKIP:" line).

Usage: test-report.py BUILD_LABEL TESTLOG_JSON"""
import json
import sys

TAIL = 25


def main():
    label, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8", errors="replace") as f:
        results = [json.loads(line) for line in f if line.strip()]
    for r in results:
        name = r["name"].split(" / ")[-1]
        out = (r.get("stdout") or "") + (r.get("stderr") or "")
        if r["result"] in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"):
            lines = out.rstrip("\n").split("\n")
            print(f"--- {label}/{name}: {r['result']}, its last {min(TAIL, len(lines))} lines:")
            for line in lines[-TAIL:]:
                print(f"    {line}")
        elif r["result"] == "SKIP":
            reasons = [l[len("SKIP:"):].strip() for l in out.split("\n") if l.startswith("SKIP:")]
            print(f"SKIPPED {label}/{name}: {reasons[-1] if reasons else '(no SKIP: line given)'}")


main()
