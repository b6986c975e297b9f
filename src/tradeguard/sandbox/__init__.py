"""A local exchange that speaks a subset of Binance's spot API, for rehearsals and tests."""
