#!/usr/bin/env python3
"""Re-record the expected output of every flow in this folder.

Usage:

    python tests/flows/record_reference.py --python /path/to/venv/bin/python

The interpreter given with ``--python`` must have the reference
``bytewax==0.18.2`` installed. For each ``tests/flows/<name>.py`` (this
script and files starting with ``_`` excepted) it runs

    <python> -m bytewax.run tests/flows/<name>.py:flow

with a timeout and writes the flow's stdout to
``tests/flows/expected/<name>.out``. A flow that exits non-zero, times
out or writes to stdout something that is not UTF-8 is reported with
its stderr, its expectation is left untouched, and the script exits 1
after trying every flow.

Unless ``--no-check`` is given, each flow is then also run with
``-m bytewax.testing ... -w N -p P`` (``--workers``, default 2;
``--processes``, default 1) and its output, compared as a sorted list
of lines, must equal the single-worker output. With several processes
the reference's timely layer prints "worker N: error connecting to
worker M ...; retrying" lines on stdout; those are dropped before the
comparison. ``--repeat K`` runs the single-worker recording K
times and insists all runs agree as sorted lines, to catch flows that
depend on timing.

The children run in a scratch working directory with a cleaned
environment (no ``BYTEWAX_*`` variables, no ``PYTHONPATH``, no
``PYTHONUNBUFFERED``) and with ``PYTHONUTF8=1``, so that file and
stdout encodings do not depend on the caller's locale. Hash
randomisation is left on: no flow may depend on it. Runs are
sequential: ``bytewax.testing`` binds a fixed local port.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected"

# Flows whose sorted output legitimately differs between worker counts
# under the reference, with the reason. Keep in sync with MANIFEST.md.
WORKER_DEPENDENT = {}

# Noise the reference's networking layer writes to stdout in
# multi-process runs; not flow output.
TIMELY_NOISE = re.compile(rb"^worker \d+:\s*(error connecting to worker|awaiting)")

DROP_VARS = {
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONUNBUFFERED",
    "PYTHONINSPECT",
    "PYTHONSAFEPATH",
    "PYTHONWARNINGS",
}


def child_env():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in DROP_VARS and not k.startswith("BYTEWAX_") and k != "__BYTEWAX_PROC_ID"
    }
    env["PYTHONUTF8"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def discover(only):
    flows = sorted(
        p
        for p in HERE.glob("*.py")
        if p.name != Path(__file__).name and not p.name.startswith("_")
    )
    if only:
        wanted = {name[:-3] if name.endswith(".py") else name for name in only}
        missing = wanted - {p.stem for p in flows}
        if missing:
            sys.exit(f"unknown flow(s): {', '.join(sorted(missing))}")
        flows = [p for p in flows if p.stem in wanted]
    return flows


class FlowFailed(Exception):
    pass


def run(cmd, timeout, scratch):
    try:
        proc = subprocess.run(
            cmd,
            cwd=scratch,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as ex:
        err = (ex.stderr or b"").decode("utf-8", "replace")
        raise FlowFailed(f"timed out after {timeout}s: {' '.join(cmd)}\n{err[-4000:]}")
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace")
        raise FlowFailed(f"exit code {proc.returncode}: {' '.join(cmd)}\n{err[-4000:]}")
    try:
        proc.stdout.decode("utf-8")
    except UnicodeDecodeError as ex:
        raise FlowFailed(f"stdout is not UTF-8 ({ex}): {' '.join(cmd)}")
    return proc.stdout


def sorted_lines(data):
    return sorted(data.splitlines())


def describe_diff(a, b):
    sa, sb = sorted_lines(a), sorted_lines(b)
    only_a = [x for x in sa if x not in sb]
    only_b = [x for x in sb if x not in sa]
    lines = [f"  -w 1 has {len(sa)} lines, other run has {len(sb)}"]
    for x in only_a[:10]:
        lines.append(f"  only in -w 1:  {x.decode('utf-8', 'replace')}")
    for x in only_b[:10]:
        lines.append(f"  only in other: {x.decode('utf-8', 'replace')}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="interpreter with bytewax==0.18.2 installed")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per run (default 60)")
    parser.add_argument("--workers", type=int, default=2, help="worker count for the cross-check (default 2)")
    parser.add_argument("--processes", type=int, default=1, help="process count for the cross-check (default 1)")
    parser.add_argument("--no-check", action="store_true", help="skip the multi-worker cross-check")
    parser.add_argument("--repeat", type=int, default=1, help="single-worker runs per flow (default 1)")
    parser.add_argument("--dry-run", action="store_true", help="run and check, but write nothing")
    parser.add_argument("only", nargs="*", help="flow names to record (default: all)")
    args = parser.parse_args()

    python = args.python
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        sys.exit(f"--python {python!r} is not an executable file")

    flows = discover(args.only)
    if not flows:
        sys.exit("no flows found")
    EXPECTED.mkdir(exist_ok=True)

    failures = []
    with tempfile.TemporaryDirectory(prefix="bytewax-flows-") as scratch:
        for path in flows:
            name = path.stem
            target = f"{path}:flow"
            try:
                outputs = [
                    run([python, "-m", "bytewax.run", target], args.timeout, scratch)
                    for _ in range(max(1, args.repeat))
                ]
                first = outputs[0]
                for other in outputs[1:]:
                    if sorted_lines(other) != sorted_lines(first):
                        raise FlowFailed("single-worker runs disagree\n" + describe_diff(first, other))
                note = ""
                if not args.no_check:
                    shape = f"-w {args.workers} -p {args.processes}"
                    multi = run(
                        [
                            python,
                            "-m",
                            "bytewax.testing",
                            target,
                            "-w",
                            str(args.workers),
                            "-p",
                            str(args.processes),
                        ],
                        args.timeout,
                        scratch,
                    )
                    if args.processes > 1:
                        multi = b"".join(
                            line for line in multi.splitlines(keepends=True) if not TIMELY_NOISE.match(line)
                        )
                    if sorted_lines(multi) != sorted_lines(first):
                        if name in WORKER_DEPENDENT:
                            note = f" (differs with {shape}, expected: {WORKER_DEPENDENT[name]})"
                        else:
                            raise FlowFailed(f"{shape} output differs from -w 1\n" + describe_diff(first, multi))
                    else:
                        note = f" (same multiset with {shape})"
            except FlowFailed as ex:
                failures.append(name)
                print(f"FAIL {name}: {ex}", file=sys.stderr)
                continue
            if not args.dry_run:
                (EXPECTED / f"{name}.out").write_bytes(first)
            print(f"ok   {name}: {len(first.splitlines())} lines{note}")

    if failures:
        print(f"\n{len(failures)} flow(s) FAILED: {', '.join(failures)}", file=sys.stderr)
        return 1
    print(f"\nrecorded {len(flows)} flow(s)" + (" (dry run)" if args.dry_run else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
