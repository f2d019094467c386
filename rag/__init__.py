"""The RAG stack under test: loaders, embedders, stores, retrievers and generators."""
