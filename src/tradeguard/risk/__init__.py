"""Pre-trade checks, circuit breakers, kill switch and the trading state."""
