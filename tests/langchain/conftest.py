import pytest
from ragpoison.corpora import bundled
from ragpoison.rag.loaders import load_corpus, load_questions, load_targets


@pytest.fixture(scope="session")
def clinical():
    """The bundled corpus, questions and targets."""
    paths = bundled()
    questions = load_questions(paths["questions"])
    return load_corpus(paths["corpus"]), questions, load_targets(paths["targets"], questions, 0)


@pytest.fixture(scope="session")
def lc_embeddings(embedder):
    from ragpoison.eval.langchain.documents import EmbedderEmbeddings

    return EmbedderEmbeddings(embedder)


def chroma_snapshot(store):
    """Everything a Chroma collection holds, by id: document, metadata and embedding."""
    got = store._collection.get(include=["documents", "metadatas", "embeddings"])
    return {doc_id: (doc, meta, tuple(float(x) for x in emb))
            for doc_id, doc, meta, emb in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"],
                                              strict=True)}
