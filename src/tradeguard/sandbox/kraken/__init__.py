"""A Kraken-compatible spot REST API over the sandbox's matching engine, books and accounts."""
