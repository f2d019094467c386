"""ragpoison's defended retrieval as LangChain retrievers, to put its defenses into a user's own chain."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field
from ragpoison.eval.langchain.documents import document_passage, passage_document
from ragpoison.poisoning.defenses.base import Candidate, Defense, apply_chain
from ragpoison.rag.types import Question


def query_question(query: str) -> Question:
    """A free-text query in the shape defenses take (no options: it is not a multiple-choice question)."""
    return Question(qid="query", question=query, options={}, answer="")


class DefendedRetriever(BaseRetriever):
    """A ragpoison retriever (BM25, dense, hybrid over FAISS or Chroma) behind a defense chain.

    Retrieves ``fetch_k`` candidates, runs the chain, and returns the first ``k`` that pass as documents
    (metadata: title, source, published, reference, score).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Any
    passages: Any = Field(description="Mapping from document id to passage (the indexed corpus)")
    defenses: list[Any] = Field(default_factory=list)
    k: int = 5
    fetch_k: int = 20

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                ) -> list[Document]:
        question = query_question(query)
        depth = max(self.fetch_k, self.k) if self.defenses else self.k
        while True:
            run = self.retriever.retrieve({"query": query}, depth)["query"]
            candidates = [Candidate(doc_id, score, self.passages[doc_id]) for doc_id, score in run.items()]
            passed = apply_chain(self.defenses, question, candidates)
            # Fetch deeper while the chain leaves fewer than k, as ragpoison's own runs do.
            if len(passed) >= self.k or len(run) < depth:
                break
            depth *= 2
        return [passage_document(c.doc_id, c.passage, score=c.score) for c in passed[: self.k]]

    @classmethod
    def from_config(cls, config: str | Path, *, defense: str = "provenance", overrides: Sequence[str] = (),
                    data: dict[str, str | None] | None = None) -> DefendedRetriever:
        """Build, index and defend the stack a ragpoison config describes (defense chain like 'provenance').

        ``data`` overrides the config's corpus, questions and targets paths as ``--corpus`` etc. do.
        """
        from ragpoison.eval.config import load_config
        from ragpoison.eval.stack import build_defense_chain, build_stack, load_inputs
        from ragpoison.poisoning.defenses.base import DefenseContext

        experiment = load_config(config, list(overrides), data)
        inputs = load_inputs(experiment)
        stack = build_stack(experiment)
        stack.retriever.index(inputs.corpus)
        chain = build_defense_chain(defense, {})
        context = DefenseContext(inputs.corpus, stack.embedder, stack.generator, experiment.seed)
        for member in chain:
            member.fit(context)
        return cls(retriever=stack.retriever, passages=inputs.corpus, defenses=chain, k=experiment.k,
                   fetch_k=experiment.fetch_k)


class DefendedLangChainRetriever(BaseRetriever):
    """A user's LangChain retriever behind ragpoison's defense chain (it filters what the user's retriever found)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    base: BaseRetriever
    defenses: list[Any] = Field(default_factory=list)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                ) -> list[Document]:
        documents = self.base.invoke(query, config={"callbacks": run_manager.get_child()})
        candidates = [Candidate(d.id or f"doc:{i}", float(d.metadata.get("score", 0.0)), document_passage(d))
                      for i, d in enumerate(documents)]
        kept = {id(c) for c in apply_chain(self.defenses, query_question(query), candidates)}
        return [d for d, c in zip(documents, candidates, strict=True) if id(c) in kept]


def defend(retriever: BaseRetriever, defenses: list[Defense] | str) -> DefendedLangChainRetriever:
    """Wrap a user's retriever with a defense chain (a list of defenses, or a name like 'provenance')."""
    if isinstance(defenses, str):
        from ragpoison.eval.stack import build_defense_chain

        defenses = build_defense_chain(defenses, {})
    return DefendedLangChainRetriever(base=retriever, defenses=list(defenses))
