"""videonav.rl."""
