"""House defaults in one place (numbers a user may want to look up)."""

#: Paths per block: the unit of work of the Monte Carlo. Results do not depend on it (the RNG is keyed by path).
BLOCK_SIZE = 4096
#: Tolerance of money amounts in tests and conservation checks, yuan (one fen).
FEN = 0.01
#: Payment frequencies in months.
FREQUENCY_MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}
#: Maximum tape size we read, in bytes (a larger file is refused before it is read, with a clear message).
MAX_TAPE_BYTES = 512 * 1024 * 1024
#: Maximum data rows of a pool tape (refused before any row is validated; docs/tape-format.md). A million rows
#: validate in about ten seconds and under 2 GB (benchmarks/test_bench_tape.py).
MAX_TAPE_ROWS = 1_000_000
#: Most Monte Carlo paths of one deal run (``ipabs run --paths``, ``simulation.n_paths``): the per-path outputs take
#: about 150 bytes a path for a three-tranche deal, so 10 million paths need about 1.5 GB. Split larger runs by path
#: range (``path0``) and combine them.
MAX_PATHS = 10_000_000
#: Most paths of a policy Monte Carlo (``ipabs subsidy/fund --paths``; per-path tables kept in memory and written).
MAX_POLICY_PATHS = 1_000_000
#: Seeds are non-negative 63-bit integers (the Philox key).
MAX_SEED = 2**63 - 1
#: Most paths whose full cash flows ``ipabs run --sample-paths`` writes.
MAX_SAMPLE_PATHS = 10_000
#: Most numba threads ``--threads`` accepts (more than the machine has are capped at numba's thread count).
MAX_THREADS = 1024
