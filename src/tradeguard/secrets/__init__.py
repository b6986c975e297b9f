"""Encrypted credential vault and log redaction."""
