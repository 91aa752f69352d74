#!/usr/bin/env python3
"""Two envx binaries side by side on one short command: medians and their ratio.

    python3 bench/compare_binaries.py OLD_ENVX NEW_ENVX [ARGS...]   # default: run -- true

Made for "is a short run slower than before?": build the earlier commit's release binary
into another folder (`git worktree add /tmp/old REV && cargo build --release --manifest-path
/tmp/old/Cargo.toml --target-dir /tmp/old-target`), then compare. The runs alternate (old,
new, old, ...) so that the load of a shared machine falls on both; a 10-value encrypted file
is made with NEW_ENVX in a temporary folder, and the key cache is off so that every run is a
cold one. For each binary it prints the median wall time, the mean CPU time (user + system,
from the kernel's accounting of the finished process; steadier than wall time on a busy
machine) and the median count of minor page faults (what loading a larger executable costs).
`run` replaces itself with the child, so its figures include starting `true`.
"""
import resource
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = 300


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    old, new = sys.argv[1], sys.argv[2]
    args = sys.argv[3:] or ["run", "-f", ".env.production", "--", "true"]
    folder = tempfile.mkdtemp()
    env = {"PATH": "/usr/bin:/bin", "HOME": folder, "ENVX_NO_CACHE": "1"}
    for i in range(10):
        subprocess.run([new, "set", f"K{i}", f"value-{i}-" + "x" * 30, "-f", ".env.production"],
                       cwd=folder, env=env, check=True, capture_output=True)

    def once(binary: str) -> tuple[float, float, int]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([binary, *args], cwd=folder, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        return wall, cpu, after.ru_minflt - before.ru_minflt

    runs = {old: [], new: []}
    for _ in range(RUNS):
        for binary in (old, new):
            runs[binary].append(once(binary))

    def figures(binary: str) -> tuple[float, float, float]:
        walls, cpus, faults = zip(*runs[binary])
        return statistics.median(walls), statistics.mean(cpus), statistics.median(faults)

    (ow, oc, of), (nw, nc, nf) = figures(old), figures(new)
    print(f"{' '.join(args)}: {RUNS} alternated runs each")
    print(f"  wall (median): old {ow * 1e3:.2f} ms, new {nw * 1e3:.2f} ms, new/old {nw / ow:.3f}")
    print(f"  CPU (mean):    old {oc * 1e3:.2f} ms, new {nc * 1e3:.2f} ms, new/old {nc / oc:.3f}")
    print(f"  page faults:   old {of:.0f}, new {nf:.0f}")


if __name__ == "__main__":
    main()
