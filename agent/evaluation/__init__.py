"""Evaluation: dataset readers, the strategies-side-by-side harness, QA and grounding metrics."""
