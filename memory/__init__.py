"""The caption tree, its builders, file formats, the SQLite store and the split; no models (docs/architecture.md)."""
