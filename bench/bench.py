#!/usr/bin/env python3
"""envx benchmark: envx against dotenvx and against the bare crypto limit, side by side.

Usage: python3 bench/bench.py [--quick] [--sizes 10,100,1000,10000]

Builds envx (release), installs dotenvx 2.38.2 into .tools/dotenvx when missing, generates
env files with N encrypted values, and prints medians and ratios. Ratios are the figures that
count: the machine is shared, so absolute times move between runs.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOTENVX_VERSION = "2.38.2"
# Seconds each fast envx measurement may repeat for (see median_time).
ENVX_BUDGET = 0.5


def build():
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--bin", "envx", "--example", "crypto_limit"],
        cwd=ROOT,
        check=True,
    )
    return ROOT / "target/release/envx", ROOT / "target/release/examples"


def maxrss_tool(work):
    """A tiny C launcher that reports a child's peak memory (see bench/maxrss.c)."""
    tool = work / "maxrss"
    subprocess.run(["cc", "-O2", "-o", tool, ROOT / "bench/maxrss.c"], check=True)
    return tool


def peak_kib(tool, cmd, cwd, env):
    out = subprocess.run([tool, *cmd], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = [l for l in out.stderr.splitlines() if l.startswith("maxrss_kib=")][-1]
    return int(line.split("=")[1])


def dotenvx_bin():
    folder = Path(os.environ.get("ENVX_DOTENVX_DIR", ROOT / ".tools/dotenvx"))
    binary = folder / "node_modules/.bin/dotenvx"
    if not binary.exists():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_text('{"private":true}\n')
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", f"@dotenvx/dotenvx@{DOTENVX_VERSION}"],
            cwd=folder,
            check=True,
        )
    return binary


def value(rng, i):
    """Realistic values: tokens, URLs, passwords, JSON, and every 25th a multiline PEM."""
    if i % 25 == 7:
        body = "".join(rng.choice(string.ascii_letters + string.digits + "+/") for _ in range(64))
        return '"-----BEGIN PRIVATE KEY-----\n' + body + "\n" + body[::-1] + '\n-----END PRIVATE KEY-----"'
    kind = i % 4
    if kind == 0:
        return "sk_live_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32))
    if kind == 1:
        return f"postgres://app{i}:{rng.randrange(10**12)}@db{i % 7}.internal:5432/app"
    if kind == 2:
        return "'" + json.dumps({"id": i, "region": "eu-west-1", "on": True}) + "'"
    return "".join(rng.choice(string.ascii_letters + string.digits + "@#%^&*") for _ in range(24)).replace("#", "_")


def plaintext(n):
    rng = random.Random(n)
    lines = [f"# generated: {n} values"]
    for i in range(n):
        lines.append(f"KEY_{i:05d}={value(rng, i)}")
    return "\n".join(lines) + "\n"


def env_for(folder):
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(folder),
        "LANG": "C.UTF-8",
        "DOTENVX_NO_NATIVE": "true",
        "CI": "true",
    }


def timed(cmd, cwd, env, stdout=subprocess.DEVNULL):
    """Wall time of one run of `cmd`."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=stdout, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))} in {cwd}")
    return elapsed


def median_time(runs, cmd, cwd, env, prepare=None, budget=0.0):
    """Median of at least `runs` runs; fast commands repeat until `budget` seconds are spent
    (at most 50 runs), since a median of three millisecond-long runs is mostly noise."""
    times = []
    while len(times) < runs or (sum(times) < budget and len(times) < 50):
        if prepare:
            prepare()
        times.append(timed(cmd, cwd, env))
    return statistics.median(times)


def fmt(seconds):
    return f"{seconds * 1000:9.1f} ms" if seconds < 10 else f"{seconds:9.2f} s "


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--quick", action="store_true", help="fewer runs; dotenvx only up to 1000 values")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    envx, examples = build()
    dotenvx = dotenvx_bin()
    runs = 3 if args.quick else 7
    dx_runs = lambda n: 1 if n >= 1000 else (2 if args.quick else 3)

    work = Path(tempfile.mkdtemp(prefix="envx-bench-"))
    rss_tool = maxrss_tool(work)
    print(f"envx benchmark  (medians: envx at least {runs} runs, up to 50 within {ENVX_BUDGET} s; dotenvx fewer)\n")
    rows = []
    for n in sizes:
        folder = work / f"n{n}"
        folder.mkdir()
        (folder / "plain.env").write_text(plaintext(n))
        shutil.copy(folder / "plain.env", folder / ".env.bench")
        env = env_for(folder)
        # Encrypt once with envx; dotenvx reads envx's file and keys (they are compatible).
        timed([envx, "encrypt", "-f", ".env.bench"], folder, env)
        row = {"n": n}
        row["envx_run"] = median_time(runs, [envx, "run", "-f", ".env.bench", "--", "true"], folder, env, budget=ENVX_BUDGET)
        row["envx_rss"] = peak_kib(rss_tool, [envx, "run", "-f", ".env.bench", "--", "true"], folder, env)
        row["envx_decrypt"] = median_time(runs, [envx, "decrypt", "-f", ".env.bench", "--stdout"], folder, env, budget=ENVX_BUDGET)
        row["envx_reencrypt"] = median_time(runs, [envx, "encrypt", "-f", ".env.bench"], folder, env, budget=ENVX_BUDGET)

        def fresh():
            shutil.copy(folder / "plain.env", folder / ".env.fresh")
            (folder / ".env.keys.fresh").unlink(missing_ok=True)

        row["envx_encrypt"] = median_time(
            runs,
            [envx, "encrypt", "-f", ".env.fresh", "--keys-file", ".env.keys.fresh"],
            folder,
            env,
            fresh,
            budget=ENVX_BUDGET,
        )
        seal_overhead(row, envx, folder, env, runs)
        out = subprocess.run([examples / "crypto_limit", str(n)], capture_output=True, text=True, check=True)
        measured = json.loads(out.stdout)
        row["limit"] = measured["seconds"]
        row["envx_sequential"] = measured["envx_seconds"]
        row["pays_from"] = measured["parallel_pays_from"]
        if n <= 1000 or not args.quick:
            k = dx_runs(n)
            row["dx_run"] = median_time(k, [dotenvx, "run", "-f", ".env.bench", "--", "true"], folder, env)
            row["dx_rss"] = peak_kib(rss_tool, [dotenvx, "run", "-f", ".env.bench", "--", "true"], folder, env)
            row["dx_decrypt"] = median_time(k, [dotenvx, "decrypt", "-f", ".env.bench", "--stdout"], folder, env)

            def dx_fresh():
                shutil.copy(folder / "plain.env", folder / ".env.dxfresh")
                (folder / ".env.keys").unlink(missing_ok=True)
                shutil.copy(folder / ".env.keys.envx", folder / ".env.keys") if (folder / ".env.keys.envx").exists() else None

            shutil.copy(folder / ".env.keys", folder / ".env.keys.envx")
            row["dx_encrypt"] = median_time(k, [dotenvx, "encrypt", "-f", ".env.dxfresh"], folder, env, dx_fresh)
            shutil.copy(folder / ".env.keys.envx", folder / ".env.keys")
        rows.append(row)
        report(row)

    redact = examples / "redact_throughput"
    if subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "redact_throughput"], cwd=ROOT).returncode == 0:
        out = subprocess.run([redact], capture_output=True, text=True, check=True)
        print("\n--redact filter:", out.stdout.strip())
    shutil.rmtree(work, ignore_errors=True)


def seal_overhead(row, envx, folder, env, runs):
    """The same commands on a sealed copy, alternated run by run with the unsealed ones (a
    shared machine drifts more between two blocks of runs than the seal costs): `run
    --require-seal` (verify first) and a fresh `encrypt` of a sealed plaintext file (check,
    encrypt, reseal)."""
    shutil.copy(folder / ".env.bench", folder / ".env.sealed")
    timed([envx, "seal", "--yes", "-f", ".env.sealed"], folder, env)
    tpl = folder / ".env.tpl"
    shutil.copy(folder / "plain.env", tpl)
    timed([envx, "encrypt", "-f", ".env.tpl", "-k", "NO_SUCH_KEY"], folder, env)  # a key pair, nothing encrypted
    shutil.copy(tpl, folder / "tpl.unsealed")
    timed([envx, "seal", "--yes", "-f", ".env.tpl"], folder, env)
    shutil.copy(tpl, folder / "tpl.sealed")
    run = [envx, "run", "-f", ".env.bench", "--", "true"]
    sealed_run = [envx, "run", "--require-seal", "-f", ".env.sealed", "--", "true"]
    encrypt = [envx, "encrypt", "-f", ".env.tpl"]
    times = {k: [] for k in ("run", "seal_run", "encrypt_unsealed", "encrypt_sealed")}
    while len(times["run"]) < max(runs, 15):
        times["run"].append(timed(run, folder, env))
        times["seal_run"].append(timed(sealed_run, folder, env))
        for kind in ("unsealed", "sealed"):
            shutil.copy(folder / f"tpl.{kind}", tpl)
            times[f"encrypt_{kind}"].append(timed(encrypt, folder, env))
    for key, values in times.items():
        row[key] = statistics.median(values)


def report(row):
    n = row["n"]
    print(f"== {n} encrypted values")
    def line(label, ours, theirs=None):
        text = f"  {label:<34}{fmt(ours)}"
        if theirs is not None:
            text += f"   dotenvx {fmt(theirs)}   dotenvx/envx = {theirs / ours:7.1f}x"
        print(text)
    line("run -- true", row["envx_run"], row.get("dx_run"))
    line("decrypt --stdout", row["envx_decrypt"], row.get("dx_decrypt"))
    line("encrypt (fresh file)", row["envx_encrypt"], row.get("dx_encrypt"))
    print(f"  {'encrypt again (no change)':<34}{fmt(row['envx_reencrypt'])}   = {100 * row['envx_reencrypt'] / row['envx_encrypt']:5.1f}% of a fresh encrypt")
    print(f"  {'run --require-seal (sealed file)':<34}{fmt(row['seal_run'])}   = {100 * (row['seal_run'] / row['run'] - 1):+5.1f}% over run -- true, unsealed ({fmt(row['run']).strip()}, alternated)")
    print(f"  {'encrypt, sealed file (reseals)':<34}{fmt(row['encrypt_sealed'])}   = {100 * (row['encrypt_sealed'] / row['encrypt_unsealed'] - 1):+5.1f}% over unsealed ({fmt(row['encrypt_unsealed']).strip()}, alternated)")
    print(f"  {'crypto limit (1 thread, in-process)':<34}{fmt(row['limit'])}")
    print(f"  {'envx decrypt path (1 thread, in-process)':<34}{fmt(row['envx_sequential'])}   / limit = {row['envx_sequential'] / row['limit']:5.2f}x")
    if row["pays_from"] is not None:
        print(f"  {'threads beat one thread from':<34}{row['pays_from']:6d} values (in-process)")
    print(f"  {'envx decrypt --stdout (whole command)':<34}{fmt(row['envx_decrypt'])}   / limit = {row['envx_decrypt'] / row['limit']:5.2f}x")
    print(f"  {'peak memory, envx run':<34}{row['envx_rss'] / 1024:9.1f} MiB" + (f"   dotenvx {row['dx_rss'] / 1024:6.1f} MiB" if "dx_rss" in row else ""))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
