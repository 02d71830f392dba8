"""Cost of simulated index paths (``simulation.rates``, decision 022) against the forward paths.

The interbank sample with a floating senior (LPR 1Y − 40 bp, floor 1.5%) and floating pledge loans, as in
tests/oracle/test_mc_rates.py: the same deal with Hull–White index paths (a = 0.05, σ = 0.008) and without, one
thread, CPU time per path, alternating, best of ``--rounds``.

    python benchmarks/rates_cost.py [--paths 100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "oracle"))

from test_mc_rates import scenario_text  # noqa: E402

from ipabs.api import compile_scenario, load_scenario  # noqa: E402
from ipabs.engine.montecarlo import simulate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copytree(ROOT / "scenarios" / "tapes", folder / "tapes")
        deals = {}
        for name, sigma in (("hull_white", 0.008), ("forward", None)):
            (folder / f"{name}.toml").write_text(scenario_text(sigma), encoding="utf-8")
            deals[name] = compile_scenario(load_scenario(folder / f"{name}.toml"))
        for deal in deals.values():
            simulate(deal, n_paths=2000, threads=1)  # load the kernels
        times: dict[str, list[float]] = {name: [] for name in deals}
        for _ in range(args.rounds):
            for name, deal in deals.items():
                t = time.process_time()
                simulate(deal, n_paths=args.paths, threads=1)
                times[name].append((time.process_time() - t) / args.paths * 1e6)
    for name, ts in times.items():
        print(f"{name:>10}: best {min(ts):.2f} µs per path (rounds {', '.join(f'{x:.2f}' for x in ts)})")
    print(f"ratio of bests {min(times['hull_white']) / min(times['forward']):.2f}x")


if __name__ == "__main__":
    main()
