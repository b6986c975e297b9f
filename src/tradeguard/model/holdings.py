"""The owner of trades the node did not make on spot markets.

A fill of no journal order (a trade by hand, another program on the same account) on a spot
market changes what the account holds and nothing else: it is booked to HOLDINGS, whose fills
move balances only (like a multi-leg strategy's legs) and never open a signed position. Selling
coins the account holds is then a smaller balance, not a "short".
"""

HOLDINGS = "holdings"
