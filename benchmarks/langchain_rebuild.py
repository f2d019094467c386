"""The baseline a user writes by hand: a LangChain FAISS store built from clean + poisoned documents per cell."""

from __future__ import annotations

from collections.abc import Sequence

from ragpoison.eval.config import ExperimentConfig
from ragpoison.eval.stack import Inputs
from ragpoison.poisoning.attacks.base import Poison

CellKey = tuple[str, int, str, str]  # (attack, poison_per_target, defense, qid)


def run_langchain_rebuild(config: ExperimentConfig, inputs: Inputs, poisons: Sequence[Poison],
                          precision: str = "float32") -> dict[CellKey, list[tuple[str, float]]]:
    """Run every cell of ``config`` the hand-written way; return each question's undefended (id, score) hits.

    ``poisons`` holds each condition's poison, in the order of ``conditions(config)``, crafted beforehand by
    ragpoison's own stack, so that both pipelines index the same texts (a passage writer may choose its words
    by the victim's embedder). Crafting is thus left out of this time while our sweep's time includes it: the
    speedup is, if anything, low. For each cell (each poison condition, the clean one included because flip
    rates need clean answers, read through each defense) it embeds the clean corpus plus that condition's
    poison into a new LangChain FAISS store, searches it question by question, filters with the defense and
    reads with the same extractive reader, which reads semantic support with the same model. The model is
    loaded inside, as a script would. ``precision`` other than float32 runs the model as our embedder does (a
    from-scratch index at our precision, for comparing retrievals; a user's script would run float32).
    """
    import numpy as np
    from langchain_community.vectorstores import FAISS
    from langchain_community.vectorstores.utils import DistanceStrategy
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from ragpoison.eval.runner import conditions
    from ragpoison.eval.stack import build_defense_chain
    from ragpoison.poisoning.defenses.base import Candidate, apply_chain
    from ragpoison.rag.embedders._numerics import Numerics
    from ragpoison.rag.embedders.sentence_transformers import bundled_model_path, encode_with
    from ragpoison.rag.generators.base import ReaderInput
    from ragpoison.rag.generators.extractive import ExtractiveReader
    from ragpoison.rag.retrievers.base import passage_text
    from sentence_transformers import SentenceTransformer

    class MiniLM(Embeddings):
        """The bundled all-MiniLM-L6-v2 behind LangChain's Embeddings interface, unit-normalised."""

        def __init__(self) -> None:
            self.model = SentenceTransformer(str(bundled_model_path()), device="cpu")

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.encode(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.encode([text])[0].tolist()

        def encode(self, texts: list[str]) -> np.ndarray:
            return encode_with(self.model, texts, None, numerics)

    numerics = Numerics("cpu", precision)
    embeddings = MiniLM()
    reader = ExtractiveReader()
    reader.use_embedder(embeddings)
    reader.fit(inputs.corpus)
    retrieved: dict[CellKey, list[tuple[str, float]]] = {}
    for condition, poison in zip(conditions(config), poisons, strict=True):
        passages = {**inputs.corpus, **poison.passages}
        docs = [Document(page_content=passage_text(p), metadata={"id": d}) for d, p in passages.items()]
        for spec in config.defenses:
            store = FAISS.from_documents(docs, embeddings, distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT)
            chain = build_defense_chain(spec.name, spec.params)
            batch = []
            for qid, question in inputs.questions.items():
                hits = [(doc.metadata["id"], float(score))
                        for doc, score in store.similarity_search_with_score(question.question, k=config.fetch_k)]
                retrieved[(condition.attack.name, condition.poison_per_target, spec.name, qid)] = hits
                candidates = [Candidate(d, 0.0, passages[d]) for d, _ in hits]
                kept = apply_chain(chain, question, candidates)[: config.k] if chain else candidates[: config.k]
                batch.append(ReaderInput(question, tuple(c.passage for c in kept)))
            reader.answer(batch)
    return retrieved
