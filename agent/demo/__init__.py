"""The gradio demo: service (store, runs), UI, timeline rendering."""
