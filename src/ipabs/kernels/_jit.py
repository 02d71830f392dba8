"""The single numba decorator of the project and the opcode constants shared by kernels and model.

``cache=True`` (a warm process loads compiled kernels from ``__pycache__``), ``error_model="numpy"`` (no Python
exceptions from arithmetic; every division is guarded by hand), and no ``fastmath`` so money amounts reproduce
exactly across CPUs. The Monte Carlo runs blocks of paths from a thread pool (``jit_nogil``); ``parallel=True`` is
used only by the outer loop of the default sampler (``jit_parallel``); the per-path kernels that allocate nothing
use ``jit_inner`` (no reference counting) and their helpers ``jit_inline`` (docs/performance.md).

Compile time: numba types a module-level integer constant or a literal passed as an argument as ``Literal[int]``
and compiles the callee once per literal value (and once more for ``int64``). Kernels therefore pass constants as
``np.int64(CONST)`` and start integer variables that later change as ``np.int64(0)``: one compiled version per
kernel (measured: 61 s → 49 s cold compile when ``waterfall_periods`` and ``apply_defaults_into`` stopped being
compiled twice).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba as nb


def _kernel_source_hash() -> str:
    """Hash of every kernel source file (the containers they fill, kernels/containers.py, among them) and of the
    deal's argument NamedTuples (compile/arrays.py)."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(here.glob("*.py")) + [here.parent / "compile" / "arrays.py"]:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _set_cache_dir() -> None:
    """Key numba's on-disk cache on all kernel sources, not only the caller's own file.

    numba invalidates a cached function only when *its own* source file changes; a kernel in paths.py that calls
    (and inlines) waterfall.py would otherwise keep stale code after waterfall.py is edited (decision 007). Unless
    the user set NUMBA_CACHE_DIR, the cache goes to ``kernels/__pycache__/numba-<hash>`` (or, where the package is
    not writable, ``~/.cache/ipabs/numba-<hash>``).
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    tag = f"numba-{_kernel_source_hash()}"
    for base in (Path(__file__).resolve().parent / "__pycache__", Path.home() / ".cache" / "ipabs"):
        try:
            base.mkdir(parents=True, exist_ok=True)
            probe = base / f".probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError:
            continue
        nb.config.CACHE_DIR = str(base / tag)
        return


_set_cache_dir()

jit = nb.njit(cache=True, error_model="numpy")
jit_parallel = nb.njit(cache=True, error_model="numpy", parallel=True)
#: A unit of work run from a Python thread pool: releases the GIL (the Monte Carlo runs blocks of paths this way;
#: numba's parallel loops take minutes to compile over the engine's ~2,000 arguments).
jit_nogil = nb.njit(cache=True, error_model="numpy", nogil=True)
#: Per-path kernels that allocate nothing: compiled without numba's reference counting (``_nrt=False``), so reading
#: the deal's shared arrays costs no atomic increments (which serialise threads on shared cache lines). Such a
#: kernel takes every array, scratch included, from its caller; calling it with arrays is free.
jit_inner = nb.njit(cache=True, error_model="numpy", _nrt=False)
#: Helpers of a per-path kernel that take the deal's NamedTuple of ~45 arrays: inlined into their caller by numba,
#: because a call passes the tuple as ~400 scalars (measured: 15x slower waterfall without inlining).
jit_inline = nb.njit(cache=True, error_model="numpy", _nrt=False, inline="always")
prange = nb.prange

# --- waterfall opcodes (mirrored by ipabs.model.waterfall.Op) -------------------------------------------------------
OP_PAY_FEES = 1
OP_PAY_INTEREST = 2
OP_PAY_PRINCIPAL = 3
OP_TRANSFER = 4
OP_DRAW_SUPPORT = 5
OP_PAY_RESIDUAL = 6

ALLOC_SEQUENTIAL = 0
ALLOC_PRO_RATA = 1

# amount modes
AMT_DUE = 0  # pay_principal: principal due
AMT_ALL = 1  # pay_principal: whole balance; transfer: whole source balance
AMT_COLLECTED = 2  # pay_principal: up to principal collected this period
AMT_TO_TARGET = 3  # transfer: up to the destination reserve's target
AMT_SHORTFALL = 4  # transfer: the shortfall of the covered amounts

# covered amounts (draw_support / transfer shortfall)
COVER_FEE = 1
COVER_INTEREST = 2
COVER_PRINCIPAL = 3

# trigger conditions
TRG_CUM_DEFAULT = 1
TRG_COVERAGE = 2
TRG_SUPPORT_DEFAULT = 3
TRG_ON_DATE = 4

# deal states
STATE_NORMAL = 0
STATE_ACCELERATED = 1
STATE_POST_DEFAULT = 2

# fee bases
FEE_FIXED = 0
FEE_POOL_BALANCE = 1
FEE_TRANCHE_BALANCE = 2
FEE_INTEREST_COLLECTIONS = 3
