"""A run over documents: ingested as pipelines do, attacked inside documents, defended by visible-text extraction."""

from pathlib import Path

import pytest
from ragpoison.eval.cli import main
from ragpoison.eval.config import load_configs
from ragpoison.eval.runner import run_experiment

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cells():
    attacks = ("[none, {name: document-hidden, params: {format: html, place: hidden-element}}, "
               "{name: document-hidden, params: {format: pdf, place: metadata}}, poisonedrag-blackbox]")
    config = load_configs(ROOT / "configs/ingest.yaml", [f"attacks={attacks}", "max_questions=15"])[0]
    return {(c.attack + (c.attack_params or ""), c.defense): c for c in run_experiment(config).summary}


def test_hidden_html_poison_reaches_the_reader_and_visible_text_extraction_stops_it(cells):
    hidden = '{"format": "html", "place": "hidden-element"}'
    undefended = cells[("document-hidden" + hidden, "none")]
    defended = cells[("document-hidden" + hidden, "visible-text")]
    clean, clean_defended = cells[("none", "none")], cells[("none", "visible-text")]
    assert clean.clean_accuracy >= 0.6 and clean_defended.clean_accuracy == clean.clean_accuracy
    assert undefended.flip_rate >= 0.5 and undefended.poison_hit_rate == 1.0
    assert defended.flip_rate == 0.0 and defended.defense_tpr == 1.0 and defended.defense_fpr == 0.0
    assert clean_defended.defense_fpr == 0.0, "every clean chunk is text its document shows"


def test_a_place_the_extractor_drops_plants_nothing_and_visible_text_leaves_passage_attacks_alone(cells):
    assert cells[('document-hidden{"format": "pdf", "place": "metadata"}', "none")].n_poison == 0
    blackbox = cells[("poisonedrag-blackbox", "visible-text")]
    assert blackbox.defense_tpr == 0.0 and blackbox.flip_rate >= 0.5  # outside its threat model: kept, reported


def test_bad_document_settings_exit_2_with_one_line(tmp_path, capsys):
    cases = [(["--set", "attacks=[{name: document-hidden, params: {format: pdf, place: comment}}]"],
              "unknown hiding place 'comment' for pdf"),
             (["--corpus", str(tmp_path)], "give data.corpus or data.documents, not both")]
    for extra, expected in cases:
        assert main(["run", str(ROOT / "configs/ingest.yaml"), "--out", str(tmp_path / "out"), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and expected in err and "Traceback" not in err, err
