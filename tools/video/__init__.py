"""Video: probe, readers (PyAV / decord), shots, subtitles, the lazy tree source, indexing, the sample generator."""
