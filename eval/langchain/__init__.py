"""LangChain both ways: attack a user's vector store through their retriever; defend a user's chain.

Modules: ``documents`` (passages as LangChain documents, a ragpoison embedder as LangChain ``Embeddings``),
``journal`` (the on-disk record of injected ids and ``cleanup``), ``attack`` (inject, measure, remove exactly),
``retrievers`` (defended retrievers for a user's chain). LangChain is imported only by the modules that need it.
"""
