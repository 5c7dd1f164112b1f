#!/usr/bin/env python3
"""Benchmark harness: our `bytewax` binary against `bytewax==0.18.2`.

Runs the flows in `bench/flows/` (identical files for both systems) on
our binary and on the reference from PyPI, on the same machine in one
run, and checks the project's performance targets.

    python3 bench/run.py [--only NAME...] [--repeat 3] [--binary PATH]
                         [--skip-reference] [--report]

Standard library only. See bench/README.md for what each bench
measures. Generated data goes to bench/data/ (git-ignored), the
reference venv to bench/.venv-ref/ (git-ignored), results to
bench/results.json.
"""

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import statistics
import string
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
FLOWS = BENCH_DIR / "flows"
DATA = BENCH_DIR / "data"
RESULTS = BENCH_DIR / "results.json"
REF_VERSION = "0.18.2"

# Data generation. Bump DATA_VERSION whenever the generator changes so
# that stale data in bench/data/ is regenerated.
DATA_VERSION = 1
SEED = 20240101
TEXT_LINES = 2_000_000
CLUSTER_FILES = 4
CLUSTER_LINES = 2_000_000  # in all, split evenly over the files
CLUSTER_USERS = 20_000

STATELESS_N = 5_000_000
KEYED_N = 2_000_000
WINDOWS_N = 1_000_000
WINDOWS_KEYS = 100
WINDOWS_STEP_MS = 10


# --------------------------------------------------------------------
# Output helpers


def log(msg=""):
    print(msg, file=sys.stderr, flush=True)


def fmt_s(x):
    return "-" if x is None else f"{x:.2f}"


def fmt_rate(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def fmt_ratio(x):
    return "-" if x is None else f"{x:.2f}x"


def table(headers, rows):
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(str(cell)))
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    return "\n".join(lines)


def md_table(headers, rows):
    out = ["| " + " | ".join(headers) + " |"]
    out.append("|" + "|".join(" --- " for _ in headers) + "|")
    for row in rows:
        out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
    return "\n".join(out)


# --------------------------------------------------------------------
# Data generation (seeded, deterministic)


def _make_vocab(rng, size):
    letters = string.ascii_lowercase
    seen = set()
    vocab = []
    while len(vocab) < size:
        n = rng.randint(2, 10)
        w = "".join(rng.choice(letters) for _ in range(n))
        if w not in seen:
            seen.add(w)
            vocab.append(w)
    return vocab


def _normalize(word):
    return word.lower().strip(string.punctuation)


def generate_text(path, rng):
    """A text file of TEXT_LINES lines, 3-9 words each.

    Words come from a 30,000-word vocabulary with Zipf-like
    frequencies; some are capitalized, some carry punctuation, so the
    normalizing map has work to do and the full word count sees more
    distinct tokens than the vocabulary.
    """
    vocab = _make_vocab(rng, 30_000)
    variants = []
    weights = []
    for rank, w in enumerate(vocab, start=1):
        base = 1.0 / rank
        for v, p in (
            (w, 0.78),
            (w.capitalize(), 0.10),
            (w + ",", 0.05),
            (w + ".", 0.04),
            (w + "!", 0.01),
            ('"' + w, 0.01),
            (w.upper(), 0.01),
        ):
            variants.append(v)
            weights.append(base * p)
    cum = []
    acc = 0.0
    for x in weights:
        acc += x
        cum.append(acc)

    counts = Counter()
    lines_done = 0
    chunk = 100_000
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        while lines_done < TEXT_LINES:
            n_lines = min(chunk, TEXT_LINES - lines_done)
            lens = [rng.randint(3, 9) for _ in range(n_lines)]
            tokens = rng.choices(variants, cum_weights=cum, k=sum(lens))
            counts.update(tokens)
            out = []
            pos = 0
            for n in lens:
                out.append(" ".join(tokens[pos : pos + n]))
                pos += n
            f.write("\n".join(out))
            f.write("\n")
            lines_done += n_lines
    words = sum(counts.values())
    norm_len = sum(len(_normalize(t)) * c for t, c in counts.items())
    return {
        "lines": TEXT_LINES,
        "words": words,
        "distinct_words": len(counts),
        "normalized_length": norm_len,
    }


def generate_cluster(dir_path, rng):
    """CLUSTER_FILES CSV files of `user,action,value` lines."""
    dir_path.mkdir(parents=True, exist_ok=True)
    actions = ["view", "click", "buy", "share", "login", "logout"]
    per_file = CLUSTER_LINES // CLUSTER_FILES
    users = set()
    for i in range(CLUSTER_FILES):
        with open(dir_path / f"part-{i}.csv", "w", encoding="utf-8", newline="\n") as f:
            ids = [rng.randrange(CLUSTER_USERS) for _ in range(per_file)]
            users.update(ids)
            out = [
                f"u{u},{actions[u % len(actions)]},{(u * 7919 + j) % 1000}"
                for j, u in enumerate(ids)
            ]
            f.write("\n".join(out))
            f.write("\n")
    return {
        "files": CLUSTER_FILES,
        "lines": per_file * CLUSTER_FILES,
        "distinct_users": len(users),
    }


def ensure_data():
    import random

    meta_path = DATA / "meta.json"
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
            if (
                meta.get("version") == DATA_VERSION
                and meta.get("seed") == SEED
                and (DATA / "text.txt").exists()
                and all(
                    (DATA / "cluster" / f"part-{i}.csv").exists()
                    for i in range(CLUSTER_FILES)
                )
            ):
                return meta
        except (ValueError, OSError):
            pass
    DATA.mkdir(parents=True, exist_ok=True)
    log(f"generating benchmark data in {DATA} (seed {SEED}) ...")
    t0 = time.perf_counter()
    text = generate_text(DATA / "text.txt", random.Random(SEED))
    shutil.rmtree(DATA / "cluster", ignore_errors=True)
    cluster = generate_cluster(DATA / "cluster", random.Random(SEED + 1))
    meta = {"version": DATA_VERSION, "seed": SEED, "text": text, "cluster": cluster}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    log(f"  done in {time.perf_counter() - t0:.1f}s: {json.dumps(meta)}")
    return meta


# --------------------------------------------------------------------
# Expected outputs, computed independently of either system


def expect_stateless(n):
    count = 0
    total = 0
    for x in range(1, n + 1):
        if x % 2 == 0:
            count += 1
            total += 3 * x
    return {"out": (count, total)}


def expect_keyed_sum(n, keys):
    sums = [0] * keys
    total = 0
    for x in range(n):
        k = x % keys
        sums[k] += x
        total += sums[k]
    return {"out": (n, total)}


def expect_windows(n, keys, step_ms):
    windows = set()
    for i in range(n):
        windows.add((i % keys, (i * step_ms) // 60_000))
    return {"sum": (len(windows), n * (n - 1) // 2), "count": (len(windows), n)}


# --------------------------------------------------------------------
# Systems


class Config:
    """One way to run a bench flow."""

    def __init__(self, system, label, workers=1, processes=1, recovery=False,
                 log_level=None, snapshot="1", env=None, expected=None):
        self.system = system  # "ours" or "ref"
        # Overrides of the bench's BENCH_* variables and expected outputs,
        # for a configuration that runs the flow on other parameters.
        self.env = env or {}
        self.expected = expected
        self.label = label
        self.workers = workers
        self.processes = processes
        self.recovery = recovery
        self.log_level = log_level
        self.snapshot = snapshot  # -s with recovery

    @property
    def key(self):
        return f"{self.system}:{self.label}"


class Systems:
    def __init__(self, binary, ref_python, timeout):
        self.binary = binary
        self.ref_python = ref_python
        self.timeout = timeout

    def env(self, extra):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("BYTEWAX_") or k.startswith("BENCH_"):
                del env[k]
        for k in ("PYTHONUNBUFFERED", "RUST_BACKTRACE", "VIRTUAL_ENV",
                  "PYTHONPATH", "PYTHONHOME"):
            env.pop(k, None)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def command(self, cfg, import_str, rec_dir):
        rec = ["-r", str(rec_dir), "-s", cfg.snapshot, "-b", "0"] if cfg.recovery else []
        if cfg.system == "ours":
            cmd = [str(self.binary), "run", import_str, "-w", str(cfg.workers)]
            if cfg.processes > 1:
                cmd += ["-p", str(cfg.processes)]
            cmd += rec
            if cfg.log_level:
                cmd += ["--log-level", cfg.log_level]
            return cmd
        if cfg.workers == 1 and cfg.processes == 1:
            return [str(self.ref_python), "-m", "bytewax.run", import_str] + rec
        return [str(self.ref_python), "-m", "bytewax.testing", import_str,
                "-w", str(cfg.workers), "-p", str(cfg.processes)] + rec

    def init_recovery(self, cfg, rec_dir, env):
        shutil.rmtree(rec_dir, ignore_errors=True)
        rec_dir.parent.mkdir(parents=True, exist_ok=True)
        if cfg.system == "ours":
            cmd = [str(self.binary), "init-db", str(rec_dir), "1"]
        else:
            rec_dir.mkdir(parents=True)
            cmd = [str(self.ref_python), "-m", "bytewax.recovery", str(rec_dir), "1"]
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=120)
        if p.returncode != 0:
            raise RunError(f"creating recovery partitions failed (exit {p.returncode}): "
                           f"{' '.join(cmd)}", p.stderr)

    def run_once(self, cfg, import_str, env_extra, expected):
        """Run one configuration once; raise RunError if it fails.

        Returns (wall seconds, share of the machine that other programs
        used meanwhile, or None where that cannot be measured).
        """
        env = self.env(env_extra)
        rec_dir = DATA / "recovery" / cfg.key.replace(":", "-").replace(" ", "")
        if cfg.recovery:
            self.init_recovery(cfg, rec_dir, env)
        cmd = self.command(cfg, import_str, rec_dir)
        stat0 = proc_stat()
        cpu0 = children_cpu()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=str(BENCH_DIR),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            # Kill the whole process group we started (the reference's
            # -p spawns children).
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = proc.communicate()
            raise RunError(f"timed out after {self.timeout}s", err)
        elapsed = time.perf_counter() - t0
        others = others_busy(stat0, proc_stat(), children_cpu() - cpu0, elapsed)
        if cfg.recovery:
            shutil.rmtree(rec_dir, ignore_errors=True)
        if proc.returncode != 0:
            raise RunError(f"exit code {proc.returncode}", err)
        check_counts(out, err, expected, cfg.workers * cfg.processes)
        return elapsed, others


class RunError(Exception):
    def __init__(self, msg, stderr="", wrong_output=False):
        super().__init__(msg)
        self.stderr = stderr or ""
        self.wrong_output = wrong_output

    def tail(self, n=12):
        lines = [ln for ln in self.stderr.strip().splitlines() if ln.strip()]
        return "\n".join(lines[-n:])


def check_counts(stdout, stderr, expected, total_workers):
    """Add up the BENCH_COUNT lines per sink and compare."""
    got = {}
    lines = {}
    for line in stdout.splitlines():
        if not line.startswith("BENCH_COUNT "):
            continue
        fields = dict(f.split("=", 1) for f in line.split()[1:])
        name = fields["sink"]
        c, s = got.get(name, (0, 0))
        got[name] = (c + int(fields["count"]), s + int(fields["sum"]))
        lines[name] = lines.get(name, 0) + 1
    problems = []
    for name, (count, total) in expected.items():
        if name not in got:
            problems.append(f"sink {name!r}: no BENCH_COUNT line (sink close() not called?)")
            continue
        gc, gs = got[name]
        if gc != count:
            problems.append(f"sink {name!r}: {gc} items, expected {count}")
        elif gs != total:
            problems.append(f"sink {name!r}: checksum {gs}, expected {total}")
        if lines[name] != total_workers:
            problems.append(
                f"sink {name!r}: {lines[name]} count lines, expected one per worker "
                f"({total_workers})")
    if problems:
        raise RunError("WRONG OUTPUT: " + "; ".join(problems), stderr, wrong_output=True)


# --------------------------------------------------------------------
# Benches


def w(system, n, **kw):
    return Config(system, f"-w {n}", workers=n, **kw)


class Bench:
    def __init__(self, name, flow, items, unit, configs, env=None, expected=None,
                 min_repeat=1):
        self.name = name
        # Benches whose target is a small difference need more runs.
        self.min_repeat = min_repeat
        self.flow = flow
        self.items = items  # work items for items/s
        self.unit = unit
        self.configs = configs
        self.env = env or {}
        self.expected = expected  # callable -> {sink: (count, checksum)}


def make_benches(meta):
    text = str(DATA / "text.txt")
    words = meta["text"]["words"]
    text_expect_split = {"out": (words, meta["text"]["normalized_length"])}
    text_expect_count = {"out": (meta["text"]["distinct_words"], words)}
    cl = meta["cluster"]
    cluster_expect = {"out": (cl["distinct_users"], cl["lines"])}

    def both(*cfgs):
        out = []
        for system in ("ref", "ours"):
            for make in cfgs:
                out.append(make(system))
        return out

    benches = [
        Bench("stateless", "stateless.py", STATELESS_N, "ints",
              both(lambda s: w(s, 1), lambda s: w(s, 2)),
              env={"BENCH_N": STATELESS_N},
              expected=lambda: expect_stateless(STATELESS_N)),
        Bench("wordcount_stateless", "wordcount_stateless.py", words, "words",
              both(lambda s: w(s, 1), lambda s: w(s, 2)),
              env={"BENCH_TEXT": text},
              expected=lambda: text_expect_split),
        Bench("keyed_sum_1k", "keyed_sum.py", KEYED_N, "items",
              both(lambda s: w(s, 1), lambda s: w(s, 2)),
              env={"BENCH_N": KEYED_N, "BENCH_KEYS": 1000},
              expected=lambda: expect_keyed_sum(KEYED_N, 1000)),
        # Ours with 1,000 keys runs here too, round-robin with the 100k-key
        # runs, so the 1.5x key-count target compares runs made minutes
        # apart rather than in different benches.
        Bench("keyed_sum_100k", "keyed_sum.py", KEYED_N, "items",
              both(lambda s: w(s, 1), lambda s: w(s, 2))
              + [Config("ours", "-w 1 (1k keys)", env={"BENCH_KEYS": 1000},
                        expected=lambda: expect_keyed_sum(KEYED_N, 1000))],
              env={"BENCH_N": KEYED_N, "BENCH_KEYS": 100_000},
              expected=lambda: expect_keyed_sum(KEYED_N, 100_000)),
        Bench("wordcount", "wordcount.py", words, "words",
              both(lambda s: w(s, 1), lambda s: w(s, 2)),
              env={"BENCH_TEXT": text},
              expected=lambda: text_expect_count),
        Bench("windows", "windows.py", WINDOWS_N, "events",
              both(lambda s: w(s, 1), lambda s: w(s, 2)),
              env={"BENCH_N": WINDOWS_N, "BENCH_KEYS": WINDOWS_KEYS,
                   "BENCH_STEP_MS": WINDOWS_STEP_MS},
              expected=lambda: expect_windows(WINDOWS_N, WINDOWS_KEYS, WINDOWS_STEP_MS)),
        Bench("recovery_overhead", "keyed_sum.py", KEYED_N, "items",
              both(lambda s: Config(s, "-w 1", workers=1),
                   lambda s: Config(s, "-w 1 recovery", workers=1, recovery=True),
                   lambda s: Config(s, "-w 2", workers=2),
                   lambda s: Config(s, "-w 2 recovery", workers=2, recovery=True))
              # Our runs end before the first 1 s epoch closes, so -s 1
              # writes only the final snapshot; -s 0.1 (ours only: the
              # reference takes whole seconds) shows periodic snapshots.
              + [Config("ours", "-w 1 recovery -s 0.1", workers=1, recovery=True,
                        snapshot="0.1"),
                 Config("ours", "-w 2 recovery -s 0.1", workers=2, recovery=True,
                        snapshot="0.1")],
              env={"BENCH_N": KEYED_N, "BENCH_KEYS": 1000},
              expected=lambda: expect_keyed_sum(KEYED_N, 1000)),
        Bench("cluster", "cluster.py", cl["lines"], "lines",
              both(lambda s: Config(s, "-p 1 -w 1"),
                   lambda s: Config(s, "-p 2 -w 1", processes=2)),
              env={"BENCH_DIR": str(DATA / "cluster")},
              expected=lambda: cluster_expect),
        Bench("tracing_off", "stateless.py", STATELESS_N, "ints",
              [Config("ours", "-w 1 (default log level)"),
               Config("ours", "-w 1 --log-level error", log_level="error")],
              env={"BENCH_N": STATELESS_N},
              expected=lambda: expect_stateless(STATELESS_N),
              min_repeat=7),
    ]
    return {b.name: b for b in benches}


NOISY = 0.15  # others using more than this share of the machine during a run


def measure(bench, cfg, systems, import_str, expected, res, rnd, repeat, idle_wait,
            noisy_retries):
    """One timed run of `cfg`, retried while other programs load the machine."""
    for attempt in range(noisy_retries + 1):
        busy = wait_for_idle(idle_wait) if idle_wait > 0 else None
        res["busy_before"].append(None if busy is None else round(busy, 3))
        log(f"[{bench.name}] {cfg.system:4} {cfg.label:24} run {rnd + 1}/{repeat} ...")
        t, others = systems.run_once(cfg, import_str, {**bench.env, **cfg.env},
                                     cfg.expected() if cfg.expected else expected)
        res["others_during"].append(None if others is None else round(others, 3))
        if others is None or others <= NOISY:
            return t
        if attempt < noisy_retries:
            log(f"    -> {t:.2f}s, but other programs used {others * 100:.0f}% of the "
                f"machine meanwhile: discarded, run again")
            res["discarded"].append(t)
    log(f"    (other programs used {others * 100:.0f}% of the machine: kept, marked noisy)")
    res["noisy"] += 1
    return t


def run_bench(bench, systems, repeat, slow_threshold, skip_reference, idle_wait,
              noisy_retries):
    configs = [c for c in bench.configs if not (skip_reference and c.system == "ref")]
    import_str = f"{FLOWS / bench.flow}:flow"
    expected = bench.expected()
    results = {c.key: {"system": c.system, "config": c.label, "times": [],
                       "status": "ok", "error": None, "stderr_tail": None,
                       "busy_before": [], "others_during": [], "discarded": [],
                       "noisy": 0,
                       "env_overrides": {k: str(v) for k, v in c.env.items()},
                       "command": repo_relative(" ".join(systems.command(
                           c, import_str, DATA / "recovery" / "DIR")))}
               for c in configs}
    active = list(configs)
    repeat = max(repeat, bench.min_repeat)
    # Round-robin over configurations so that slow drift in the
    # machine's speed affects all of them alike.
    for rnd in range(repeat):
        for cfg in list(active):
            res = results[cfg.key]
            try:
                t = measure(bench, cfg, systems, import_str, expected, res, rnd, repeat,
                            idle_wait, noisy_retries)
            except (RunError, OSError, subprocess.SubprocessError) as e:
                if getattr(e, "wrong_output", False):
                    res["status"] = "WRONG OUTPUT"
                else:
                    res["status"] = "unavailable" if cfg.system == "ours" else "failed"
                res["error"] = str(e)
                res["stderr_tail"] = e.tail() if isinstance(e, RunError) else ""
                log(f"    -> {res['status'].upper()}: {e}")
                if res["stderr_tail"]:
                    log("       " + res["stderr_tail"].replace("\n", "\n       "))
                active.remove(cfg)
                continue
            res["times"].append(t)
            log(f"    -> {t:.2f}s")
            if rnd == 0 and repeat > 1 and t > slow_threshold:
                log(f"    (over {slow_threshold:.0f}s: this configuration runs once)")
                active.remove(cfg)
    for res in results.values():
        if res["status"] == "ok" and res["times"]:
            med = statistics.median(res["times"])
            res["seconds"] = med
            res["items_per_s"] = bench.items / med
        else:
            res["times"] = res["times"] if res["status"] == "ok" else []
            res["seconds"] = None
            res["items_per_s"] = None
    # Ratio vs reference: reference seconds / our seconds, same config.
    for res in results.values():
        res["vs_ref"] = None
        if res["system"] == "ours" and res["seconds"]:
            ref = results.get(f"ref:{res['config']}")
            if ref and ref["seconds"]:
                res["vs_ref"] = ref["seconds"] / res["seconds"]
    return {"items": bench.items, "unit": bench.unit, "flow": bench.flow,
            "env": {k: repo_relative(str(v)) for k, v in bench.env.items()},
            "expected": {k: list(v) for k, v in expected.items()},
            "runs": list(results.values())}


# --------------------------------------------------------------------
# Targets


def _secs(results, bench, system, config):
    b = results.get(bench)
    if not b:
        return None
    for r in b["runs"]:
        if r["system"] == system and r["config"] == config:
            return r["seconds"]
    return None


def _runs(results, bench, system, config):
    b = results.get(bench)
    for r in (b or {}).get("runs", []):
        if r["system"] == system and r["config"] == config:
            return r["times"]
    return []


def _fastest(results, bench, system, config):
    b = results.get(bench)
    for r in (b or {}).get("runs", []):
        if r["system"] == system and r["config"] == config and r["seconds"]:
            return min(r["times"])
    return None


def evaluate_targets(results):
    """Each target: (bench, description, measured text, verdict)."""
    out = []

    def add(bench, desc, value, ok, fmt):
        if bench not in results:
            return
        if value is None:
            verdict = "n/a"
            text = "unavailable"
        else:
            verdict = "PASS" if ok(value) else "FAIL"
            text = fmt(value)
        out.append({"bench": bench, "target": desc, "measured": text,
                    "value": value, "verdict": verdict})

    def speedup(bench, config, need=None):
        ref = _secs(results, bench, "ref", config)
        ours = _secs(results, bench, "ours", config)
        v = ref / ours if ref and ours else None
        if need is None:
            info(bench, f"ours vs reference at {config}", v, lambda x: f"{x:.2f}x")
        else:
            add(bench, f"ours >= {need}x reference at {config}", v,
                lambda x: x >= need, lambda x: f"{x:.2f}x")

    def scaling(bench, a="-w 1", b="-w 2", limit=1.10, system="ours"):
        ta = _secs(results, bench, system, a)
        tb = _secs(results, bench, system, b)
        v = tb / ta if ta and tb else None
        add(bench, f"{system} {b} time <= {limit:.2f} x {a} time", v,
            lambda x: x <= limit, lambda x: f"{x:.2f}x")
        # The same ratio of the fastest runs: on a noisy machine, a sign of
        # whether the medians moved with the code or with the machine.
        fa = _fastest(results, bench, system, a)
        fb = _fastest(results, bench, system, b)
        if fa and fb and min(len(_runs(results, bench, system, c)) for c in (a, b)) > 1:
            info(bench, f"{system} {b} / {a}, fastest runs", fb / fa, lambda x: f"{x:.2f}x")

    def info(bench, desc, value, fmt):
        if bench in results:
            out.append({"bench": bench, "target": desc,
                        "measured": "unavailable" if value is None else fmt(value),
                        "value": value, "verdict": "info"})

    speedup("stateless", "-w 1", 2.0)
    scaling("stateless")
    speedup("wordcount_stateless", "-w 1", 2.0)
    scaling("wordcount_stateless")
    speedup("keyed_sum_1k", "-w 1", 2.5)
    scaling("keyed_sum_1k")
    t1k = (_secs(results, "keyed_sum_100k", "ours", "-w 1 (1k keys)")
           or _secs(results, "keyed_sum_1k", "ours", "-w 1"))
    t100k = _secs(results, "keyed_sum_100k", "ours", "-w 1")
    if "keyed_sum_100k" in results:
        v = t100k / t1k if t1k and t100k else None
        add("keyed_sum_100k", "ours 100k-key time <= 1.5 x ours 1k-key time (-w 1)",
            v, lambda x: x <= 1.5, lambda x: f"{x:.2f}x")
    scaling("keyed_sum_100k")
    speedup("keyed_sum_100k", "-w 1")
    speedup("wordcount", "-w 1", 2.5)
    scaling("wordcount")  # DECISIONS.md: -w 2 within 10% on any bench flow
    speedup("windows", "-w 1", 3.0)
    scaling("windows")
    for n in (1, 2):
        for system in ("ours", "ref"):
            base = _secs(results, "recovery_overhead", system, f"-w {n}")
            rec = _secs(results, "recovery_overhead", system, f"-w {n} recovery")
            v = rec / base - 1 if base and rec else None
            if system == "ours":
                add("recovery_overhead", f"ours recovery overhead <= 25% at -w {n}", v,
                    lambda x: x <= 0.25, lambda x: f"{x * 100:+.1f}%")
            else:
                info("recovery_overhead", f"reference recovery overhead at -w {n}", v,
                     lambda x: f"{x * 100:+.1f}%")
        base = _secs(results, "recovery_overhead", "ours", f"-w {n}")
        rec = _secs(results, "recovery_overhead", "ours", f"-w {n} recovery -s 0.1")
        info("recovery_overhead", f"ours recovery overhead at -w {n} with -s 0.1",
             rec / base - 1 if base and rec else None, lambda x: f"{x * 100:+.1f}%")
    t1 = _secs(results, "cluster", "ours", "-p 1 -w 1")
    t2 = _secs(results, "cluster", "ours", "-p 2 -w 1")
    if "cluster" in results:
        v = t1 / t2 if t1 and t2 else None
        add("cluster", "ours -p 2 -w 1 >= 1.6x faster than -p 1 -w 1", v,
            lambda x: x >= 1.6, lambda x: f"{x:.2f}x")
        r1 = _secs(results, "cluster", "ref", "-p 1 -w 1")
        r2 = _secs(results, "cluster", "ref", "-p 2 -w 1")
        info("cluster", "reference -p 2 speedup over -p 1", r1 / r2 if r1 and r2 else None,
             lambda x: f"{x:.2f}x")
        speedup("cluster", "-p 1 -w 1")
        speedup("cluster", "-p 2 -w 1")
    td = _secs(results, "tracing_off", "ours", "-w 1 (default log level)")
    te = _secs(results, "tracing_off", "ours", "-w 1 --log-level error")
    if "tracing_off" in results:
        v = td / te - 1 if td and te else None
        add("tracing_off", "default log level within 3% of --log-level error", v,
            lambda x: abs(x) <= 0.03, lambda x: f"{x * 100:+.1f}%")
    return out


# --------------------------------------------------------------------
# Setup


def ensure_reference(venv):
    py = venv / "bin" / "python"
    check = [str(py), "-c",
             "import importlib.metadata as m, bytewax; print(m.version('bytewax'))"]
    if py.exists():
        p = subprocess.run(check, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
        if p.returncode == 0 and p.stdout.strip() == REF_VERSION:
            return py
    log(f"creating reference venv {venv} with bytewax=={REF_VERSION} ...")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", f"bytewax=={REF_VERSION}"],
                   check=True)
    p = subprocess.run(check, stdout=subprocess.PIPE, text=True, check=True)
    if p.stdout.strip() != REF_VERSION:
        sys.exit(f"reference venv has bytewax {p.stdout.strip()}, wanted {REF_VERSION}")
    return py


def ensure_binary(path, explicit):
    if path.exists():
        return path
    if explicit:
        sys.exit(f"--binary {path}: no such file")
    log(f"{path} missing: running `cargo build --release` in {REPO} ...")
    subprocess.run(["cargo", "build", "--release"], cwd=str(REPO), check=True)
    if not path.exists():
        sys.exit(f"cargo build --release did not produce {path}")
    return path


def freeze_binary(binary):
    """Copy our binary to bench/data/bin/ and run the copy.

    Others rebuild target/release/bytewax while benches run; a copy
    keeps one build for the whole run. The binary is self-contained
    (the Python package is built in; libpython is linked from the
    system), so the copy runs the same.
    """
    dest_dir = DATA / "bin"
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / "bytewax"
    tmp = dest_dir / "bytewax.tmp"
    shutil.copy2(binary, tmp)
    os.replace(tmp, dest)
    return dest


def proc_stat():
    """(total, idle) CPU jiffies of the whole machine, or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # idle + iowait
    except (OSError, ValueError, IndexError):
        return None


def children_cpu():
    """CPU seconds used by our finished child processes (and theirs)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def others_busy(stat0, stat1, our_cpu, elapsed):
    """Share of all cores used by programs other than the run, or None."""
    if stat0 is None or stat1 is None or elapsed <= 0:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    busy = ((stat1[0] - stat0[0]) - (stat1[1] - stat0[1])) / hz
    cores = os.cpu_count() or 1
    return max(0.0, (busy - our_cpu) / (elapsed * cores))


def cpu_busy(interval=0.5):
    """Share of all cores busy over `interval` seconds (Linux), or None."""
    s0 = proc_stat()
    time.sleep(interval)
    s1 = proc_stat()
    if s0 is None or s1 is None or s1[0] <= s0[0]:
        return None
    return 1.0 - (s1[1] - s0[1]) / (s1[0] - s0[0])


def wait_for_idle(max_wait, threshold=0.15):
    """Wait until no one else keeps the CPUs busy (e.g. a cargo build).

    Called between runs, when none of ours is running, so whatever
    load is measured belongs to others. Returns the last busy fraction.
    """
    deadline = time.monotonic() + max_wait
    busy = cpu_busy()
    warned = False
    while busy is not None and busy > threshold and time.monotonic() < deadline:
        if not warned:
            log(f"    (machine {busy * 100:.0f}% busy with other work; waiting up to "
                f"{max_wait:.0f}s for it to settle)")
            warned = True
        time.sleep(2)
        busy = cpu_busy()
    if warned and busy is not None and busy > threshold:
        log(f"    (still {busy * 100:.0f}% busy; running anyway, figure may be noisy)")
    return busy


def machine_info():
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "os": platform.platform(),
            "python": platform.python_version()}


def repo_relative(text):
    """Record paths inside the repo relative to it: results.json is
    committed and must not carry this machine's layout."""
    return text.replace(str(REPO) + os.sep, "")


def binary_info(binary):
    info = {"path": repo_relative(str(binary))}
    try:
        st = binary.stat()
        info["mtime"] = dt.datetime.fromtimestamp(st.st_mtime, dt.timezone.utc).isoformat(
            timespec="seconds")
        p = subprocess.run([str(binary), "--version"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, timeout=30)
        info["version"] = p.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        p = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if p.returncode == 0:
            info["git_head"] = p.stdout.strip()
    except OSError:
        pass
    return info


# --------------------------------------------------------------------
# Reporting


def print_report(results, targets, out=sys.stdout):
    rows = []
    for name, b in results["benches"].items():
        for r in b["runs"]:
            status = r["status"]
            if status == "ok":
                status = f"ok ({len(r['times'])} run{'s' if len(r['times']) != 1 else ''})"
                if r.get("noisy"):
                    status += f", {r['noisy']} noisy"
            rows.append([name, r["system"], r["config"], fmt_s(r["seconds"]),
                         fmt_rate(r["items_per_s"]) + (f" {b['unit']}/s"
                                                        if r["items_per_s"] else ""),
                         fmt_ratio(r.get("vs_ref")), status])
    print(table(["bench", "system", "config", "median s", "items/s", "vs ref", "status"],
                rows), file=out)
    print(file=out)
    print(table(["bench", "target", "measured", "verdict"],
                [[t["bench"], t["target"], t["measured"], t["verdict"]] for t in targets]),
          file=out)
    failed = [r for b in results["benches"].values() for r in b["runs"]
              if r["status"] != "ok"]
    if failed:
        print(file=out)
        print("Runs that did not complete:", file=out)
        for name, b in results["benches"].items():
            for r in b["runs"]:
                if r["status"] != "ok":
                    print(f"- {name} {r['system']} {r['config']}: {r['error']}", file=out)
                    if r.get("stderr_tail"):
                        for ln in r["stderr_tail"].splitlines()[-6:]:
                            print(f"      {ln}", file=out)


def markdown_report(results, targets):
    rows = []
    for name, b in results["benches"].items():
        for r in b["runs"]:
            if r["status"] == "ok":
                status = "ok" + (f" ({r['noisy']} noisy)" if r.get("noisy") else "")
                runs = str(len(r["times"]))
            else:
                status = r["status"]
                runs = "-"
            rate = f"{fmt_rate(r['items_per_s'])} {b['unit']}/s" if r["items_per_s"] else "-"
            rows.append([f"`{name}`", r["system"], f"`{r['config']}`", runs,
                         fmt_s(r["seconds"]), rate, fmt_ratio(r.get("vs_ref")), status])
    parts = [md_table(["bench", "system", "config", "runs", "median s", "throughput",
                       "vs reference", "status"], rows), ""]
    parts.append(md_table(["bench", "target", "measured", "verdict"],
                          [[f"`{t['bench']}`", t["target"], t["measured"],
                            f"**{t['verdict']}**" if t["verdict"] == "FAIL"
                            else t["verdict"]] for t in targets]))
    return "\n".join(parts)


# --------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="NAME",
                    help="run only these benches")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per configuration; the median is reported (default 3)")
    ap.add_argument("--binary", type=Path, default=None,
                    help="our binary (default target/release/bytewax, built when missing)")
    ap.add_argument("--skip-reference", action="store_true",
                    help="do not run the reference (no ratios then)")
    ap.add_argument("--ref-venv", type=Path, default=BENCH_DIR / ".venv-ref",
                    help="venv for bytewax==0.18.2 (created when missing)")
    ap.add_argument("--slow-threshold", type=float, default=60.0,
                    help="a configuration whose first run takes longer than this many "
                         "seconds is run only once (default 60)")
    ap.add_argument("--timeout", type=float, default=900.0,
                    help="seconds before a run is killed and reported (default 900)")
    ap.add_argument("--idle-wait", type=float, default=120.0,
                    help="before each run, wait up to this many seconds for other work "
                         "(e.g. a cargo build) to leave the CPUs idle; 0 disables "
                         "(default 120)")
    ap.add_argument("--noisy-retries", type=int, default=3,
                    help="a run during which other programs used over 15%% of the "
                         "machine is discarded and run again, up to this many times; "
                         "then kept and marked noisy (default 3)")
    ap.add_argument("--report", action="store_true",
                    help="print the tables from bench/results.json; run nothing")
    ap.add_argument("--markdown", action="store_true",
                    help="with --report: print Markdown tables (for README.md)")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 when a target fails or cannot be measured "
                         "(wrong outputs always exit 1)")
    ap.add_argument("--list", action="store_true", help="list the benches and exit")
    args = ap.parse_args()

    names = ["stateless", "wordcount_stateless", "keyed_sum_1k", "keyed_sum_100k",
             "wordcount", "windows", "recovery_overhead", "cluster", "tracing_off"]
    if args.list:
        print("\n".join(names))
        return 0
    if args.report:
        results = json.loads(RESULTS.read_text())
        targets = evaluate_targets(results["benches"])
        if args.markdown:
            print(markdown_report(results, targets))
        else:
            print_report(results, targets)
        return 0
    if args.only:
        unknown = [n for n in args.only if n not in names]
        if unknown:
            ap.error(f"unknown bench {', '.join(unknown)}; choose from {', '.join(names)}")
    selected = [n for n in names if not args.only or n in args.only]
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    source_binary = ensure_binary(
        (args.binary or REPO / "target" / "release" / "bytewax").resolve(),
        args.binary is not None)
    binary = freeze_binary(source_binary)
    ref_python = None if args.skip_reference else ensure_reference(args.ref_venv)
    meta = ensure_data()
    benches = make_benches(meta)
    systems = Systems(binary, ref_python, args.timeout)

    # Keep figures of benches not run this time (e.g. with --only).
    results = {"benches": {}}
    if RESULTS.exists():
        try:
            results = json.loads(RESULTS.read_text())
        except ValueError:
            pass
    results.setdefault("benches", {})
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    results.update({
        "date": now,
        "machine": machine_info(),
        "binary": binary_info(source_binary),
        "reference": None if args.skip_reference else f"bytewax=={REF_VERSION}",
        "repeat": args.repeat,
        "data": meta,
    })
    for name in selected:
        log(f"=== {name}")
        res = run_bench(benches[name], systems, args.repeat, args.slow_threshold,
                        args.skip_reference, args.idle_wait, args.noisy_retries)
        res["date"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        res["binary"] = results["binary"]
        res["repeat"] = max(args.repeat, benches[name].min_repeat)
        results["benches"][name] = res
        # Save as we go: a long run that is interrupted keeps its figures.
        ordered = {n: results["benches"][n] for n in names if n in results["benches"]}
        results["benches"] = ordered
        results["targets"] = evaluate_targets(ordered)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")

    targets = [t for t in results["targets"] if t["bench"] in selected]
    ran = {n: results["benches"][n] for n in selected}
    print()
    print_report({"benches": ran}, targets)
    verdicts = Counter(t["verdict"] for t in targets)
    print(f"\ntargets: {verdicts['PASS']} passed, {verdicts['FAIL']} failed, "
          f"{verdicts['n/a']} not measurable")
    print(f"results written to {RESULTS}")
    wrong = [f"{n} {r['system']} {r['config']}" for n, b in ran.items()
             for r in b["runs"] if r["status"] == "WRONG OUTPUT"]
    if wrong:
        print(f"\nWRONG OUTPUT in: {'; '.join(wrong)}", file=sys.stderr)
        return 1
    if args.strict and (verdicts["FAIL"] or verdicts["n/a"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
