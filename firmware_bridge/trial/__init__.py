"""Trial logs: MCAP files written by a separate process, and the tools that read them."""
