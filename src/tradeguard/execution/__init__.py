"""Order manager, write-ahead journal, reconciliation."""
