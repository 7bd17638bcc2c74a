"""Chapters from a caption tree: segmentation, titles and summaries, export formats, metrics."""
