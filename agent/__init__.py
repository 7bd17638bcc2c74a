"""videonav.agent."""
