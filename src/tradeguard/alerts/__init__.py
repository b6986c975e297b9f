"""Alert rules and delivery channels."""
