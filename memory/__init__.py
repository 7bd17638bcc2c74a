"""videonav.memory: the caption tree, its builders, file formats and the SQLite store.

Knows nothing of models or planners (see DESIGN.md, "Dependency direction").
"""
