"""Planner LLM backends behind one base class: transformers (default, offline), vllm, openai; chat templates."""
