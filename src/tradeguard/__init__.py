"""tradeguard: risk-checked, journaled, reconciled trading on one code path."""

__version__ = "0.1.0"
