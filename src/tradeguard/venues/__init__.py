"""Venues: the one place orders leave the process."""
