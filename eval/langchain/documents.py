"""Passages as LangChain documents and back, and a ragpoison embedder as LangChain ``Embeddings``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from ragpoison.rag.embedders.base import Embedder
from ragpoison.rag.retrievers.base import passage_text

# Passage fields carried in a document's metadata; the text is the page content.
METADATA_FIELDS = ("title", "source", "published", "reference")


def passage_document(doc_id: str, passage: Mapping[str, str], **extra: Any) -> Document:
    """A passage as a LangChain document: page content 'title. text', provenance in the metadata."""
    metadata = {key: passage[key] for key in METADATA_FIELDS if passage.get(key) is not None}
    metadata.update({key: value for key, value in extra.items() if value is not None})
    return Document(page_content=passage_text(passage), metadata=metadata, id=doc_id)


def document_passage(document: Document) -> dict[str, str]:
    """A LangChain document as a passage: title and provenance from its metadata, text from its content."""
    metadata = document.metadata or {}
    title = str(metadata.get("title") or "")
    text = document.page_content
    if title and text.startswith(f"{title}. "):
        text = text[len(title) + 2:]
    passage = {"title": title, "text": text}
    for key in METADATA_FIELDS[1:]:
        if isinstance(metadata.get(key), str):
            passage[key] = metadata[key]
    return passage


class EmbedderEmbeddings(Embeddings):
    """A ragpoison embedder (e.g. the bundled MiniLM) as LangChain ``Embeddings``, cache included."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        if embedder is None:
            from ragpoison.rag.embedders.sentence_transformers import SentenceTransformersEmbedder

            embedder = SentenceTransformersEmbedder()
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages."""
        return self.embedder.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query with the query encoder."""
        return self.embedder.encode_queries([text])[0].tolist()
