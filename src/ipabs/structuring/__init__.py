"""Structuring: the batch deterministic engine and what stands on it (breakeven, largest-obligor test, stress grids,
the prospectus stress table), implied ratings, SDR/BDR and tranche sizing. Pure functions over a compiled deal."""
