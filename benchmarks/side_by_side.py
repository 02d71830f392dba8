"""Side-by-side timing and bit-identity check of the Monte Carlo engine against an earlier commit, in one process.

    python benchmarks/side_by_side.py 6b311e1 --sizes 50,1000 --threads 1,2 --rounds 5 [--statistics losses]
        [--samples 5000]

The earlier commit's ``src/ipabs`` is extracted with ``git archive`` into a temporary directory and imported as the
package ``ipabs_old`` (its imports rewritten), so both engines run on the same benchmark deal
(benchmarks/conftest.py) in the same process, alternating round by round; the machine's load then affects both
alike. One-thread rounds are timed in CPU time of the calling thread (``time.thread_time``, robust to a busy
machine), two-thread rounds in wall time. Every per-path array and every integer sum of the last round of each is
compared bit for bit. Both keep separate numba caches (``NUMBA_CACHE_DIR`` is honoured; the earlier commit compiles
once, 35–40 s).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("loss", "short", "wal", "yld", "pool_default_rate", "pool_loss_rate", "support_draw", "support_default",
          "h_bal", "h_cash", "s_int", "s_prin", "s_bal", "s_pool", "first_default")


def extract(commit: str, dest: Path) -> None:
    """``src/ipabs`` of ``commit`` as the package ``dest/ipabs_old``."""
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "src/ipabs"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=tar.stdout, check=True)
    (dest / "src" / "ipabs").rename(dest / "ipabs_old")
    pat = re.compile(r"\b(from|import) ipabs\b|\bipabs\.(?=[a-z_]+\b)")
    for f in (dest / "ipabs_old").rglob("*.py"):
        text = f.read_text(encoding="utf-8")
        new = pat.sub(lambda m: f"{m.group(1)} ipabs_old" if m.group(1) else "ipabs_old.", text)
        if new != text:
            f.write_text(new, encoding="utf-8")


def identical(a, b) -> list[str]:
    bad = []
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        same = x == y if isinstance(x, list) else (x.dtype == y.dtype and x.shape == y.shape
                                                  and x.tobytes() == y.tobytes())
        if not same:
            bad.append(name)
    return bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("commit")
    ap.add_argument("--sizes", default="50,1000")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--paths", default="50:200000,1000:40000", help="paths per round by number of obligors")
    ap.add_argument("--statistics", default="full", choices=["full", "losses"],
                    help="statistics of both engines (losses needs an old commit that has it)")
    ap.add_argument("--samples", type=int, default=0, metavar="N",
                    help="also compare N paths of every sample deal scenario bit for bit (no timing)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ipabs-old-"))
    extract(args.commit, tmp)
    sys.path.insert(0, str(tmp))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import ipabs_old.credit.synthetic as old_synthetic
    import ipabs_old.engine.montecarlo as old_mc

    import ipabs.engine.montecarlo as new_mc
    from conftest import BASE_CASE, base_case

    kw = {} if args.statistics == "full" else {"statistics": args.statistics}
    paths = {int(k): int(v) for k, v in (x.split(":") for x in args.paths.split(","))}
    if args.samples:
        import tomllib

        from ipabs_old.api import compile_scenario as old_compile
        from ipabs_old.api import load_scenario as old_load

        from ipabs.api import compile_scenario, load_scenario

        for path in sorted((ROOT / "scenarios").glob("*.toml")):
            if "deal" not in tomllib.loads(path.read_text("utf-8")):
                continue
            a = new_mc.simulate(compile_scenario(load_scenario(path)), args.samples, 5, **kw)
            b = old_mc.simulate(old_compile(old_load(path)), args.samples, 5, **kw)
            bad = identical(a, b)
            print(f"{path.stem}: {args.samples:,} paths {'bit-identical' if not bad else 'DIFFERENT: ' + ', '.join(bad)}",
                  flush=True)
    print(f"new: {new_mc.__file__}\nold: {args.commit} ({old_mc.__file__})")
    for n_ob in (int(s) for s in args.sizes.split(",")):
        deal = base_case(n_ob)
        old_deal = old_synthetic.synthetic_deal(n_obligors=n_ob, **BASE_CASE)
        prep_new, prep_old = new_mc.prepare(deal), old_mc.prepare(old_deal)
        n = paths.get(n_ob, 20_000)
        for th in (int(x) for x in args.threads.split(",")):
            clock = time.thread_time if th == 1 else time.perf_counter
            best = {"new": np.inf, "old": np.inf}
            res = {}
            for mod, d, p in ((new_mc, deal, prep_new), (old_mc, old_deal, prep_old)):
                mod.simulate(d, 4096, 1, prepared=p, threads=th, **kw)  # compiled and warm
            for _ in range(args.rounds):
                for mod, d, p, key in ((new_mc, deal, prep_new, "new"), (old_mc, old_deal, prep_old, "old")):
                    t0 = clock()
                    res[key] = mod.simulate(d, n, 1, prepared=p, threads=th, **kw)
                    best[key] = min(best[key], clock() - t0)
            bad = identical(res["new"], res["old"])
            print(f"{n_ob:>5} obligors, {th} thread{'s' if th > 1 else ' '}, {n:,} paths: "
                  f"new {n / best['new']:>9,.0f} paths/s ({best['new'] / n * 1e6 * th:5.2f} us/path/thread) | "
                  f"old {n / best['old']:>9,.0f} ({best['old'] / n * 1e6 * th:5.2f}) | {best['old'] / best['new']:.2f}x | "
                  f"{'bit-identical' if not bad else 'DIFFERENT: ' + ', '.join(bad)}", flush=True)


if __name__ == "__main__":
    main()
