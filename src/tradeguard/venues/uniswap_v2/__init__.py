"""A Uniswap V2 venue over JSON-RPC (web3.py): quotes from reserves, journaled swaps."""
