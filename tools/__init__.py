"""videonav.tools."""
