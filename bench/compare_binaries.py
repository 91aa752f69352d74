#!/usr/bin/env python3
"""Two envx binaries side by side on one short command: medians and their ratio.

    python3 bench/compare_binaries.py OLD_ENVX NEW_ENVX [ARGS...]   # default: run -- true

Made for "is a short run slower than before?": build the earlier commit's release binary
into another folder, then compare. The runs alternate (old, new, old, ...) so that the load
of a shared machine falls on both; a 10-value encrypted file is made with NEW_ENVX in a
temporary folder, and the key cache is off so that every run is a cold one.
"""
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = 200


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

    def once(binary: str) -> float:
        start = time.perf_counter()
        subprocess.run([binary, *args], cwd=folder, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start

    before, now = [], []
    for _ in range(RUNS):
        before.append(once(old))
        now.append(once(new))
    b, n = statistics.median(before), statistics.median(now)
    print(f"{' '.join(args)}: {RUNS} alternated runs, medians: old {b * 1e3:.2f} ms, "
          f"new {n * 1e3:.2f} ms, new/old {n / b:.3f}")


if __name__ == "__main__":
    main()
