"""Strategies emit order intents; they never call a venue."""
