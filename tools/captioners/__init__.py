"""Captioners and clip QA behind one interface: classic (OCR + scene statistics), transformers, vllm, openai."""
