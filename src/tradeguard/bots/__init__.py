"""Outside decision-makers trading over HTTP: their limits, confirmations, sizing and exits."""
