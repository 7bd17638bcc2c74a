"""Video, captioners, embeddings, search and backends: pixels and text into captions and vectors."""
