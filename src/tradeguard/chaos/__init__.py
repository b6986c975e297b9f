"""Kill-and-restart drivers: run the node in a subprocess, SIGKILL it, restart, compare.

Test and benchmark drivers of the command-line room: they start sandboxes and write vaults.
"""
