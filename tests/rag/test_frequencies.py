import json
from collections import Counter

from ragpoison.corpora import bundled
from ragpoison.rag.generators import _frequencies
from ragpoison.rag.generators._text import tokens


def test_counting_in_worker_processes_gives_the_reader_the_same_frequencies(monkeypatch):
    rows = [json.loads(line) for line in (bundled()["corpus"] / "clinical_mini.jsonl").read_text().splitlines()]
    texts = [f"{r['title']} {r['content']}" for r in rows]
    expected = Counter()
    for text in texts:
        expected.update(set(tokens(text)))
    monkeypatch.setattr(_frequencies, "PARALLEL_FROM", 1)
    monkeypatch.setattr(_frequencies, "CHUNK", 50)  # several chunks over two workers
    assert _frequencies.document_frequencies(iter(texts), len(texts), workers=2) == expected
    assert _frequencies.document_frequencies(texts, len(texts), workers=1) == expected
