"""House defaults in one place (numbers a user may want to look up)."""

#: Paths per block: the unit of work of the Monte Carlo. Results do not depend on it (the RNG is keyed by path).
BLOCK_SIZE = 4096
#: Tolerance of money amounts in tests and conservation checks, yuan (one fen).
FEN = 0.01
#: Payment frequencies in months.
FREQUENCY_MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}
#: Maximum tape size we read, in bytes (a larger file is refused with a clear message).
MAX_TAPE_BYTES = 200 * 1024 * 1024
