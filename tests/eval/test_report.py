import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from ragpoison.eval.config import load_configs
from ragpoison.eval.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[2]
AXIS_LABELS = ("poisoned passages per target question", "poisoned passages as a fraction of the corpus",
               "attack success rate (95% Wilson band)", "clean accuracy (95% Wilson interval)",
               "poison recall@k (retrieval-side corruption)", "ASR by target severity")


def _run(tiny, out: Path, *overrides: str) -> Path:
    configs = load_configs(ROOT / "configs/quickstart.yaml", ["fetch_k=8", *overrides],
                           {k: str(v) for k, v in tiny.items()})
    run_sweep(configs, out).write(out)
    return out


def _report(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ragpoison", "report", str(folder)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def _figures(page: str) -> dict[str, ET.Element]:
    """Each figure's SVG, parsed (so each is well-formed XML)."""
    found = re.findall(r'<figure id="([\w-]+)">(<svg.*?</svg>)', page, flags=re.S)
    return {name: ET.fromstring(svg) for name, svg in found}


def _svg_text(svg: ET.Element) -> str:
    return " ".join(t for el in svg.iter() if el.tag.endswith("text") for t in el.itertext())


def test_report_plots_every_figure_for_per_target_and_rate_amounts(tiny, tmp_path):
    out = _run(tiny, tmp_path / "run", "seed=[0,1]", "poison_per_target=[1,3]", "poison_rate=[0.2]")
    proc = _report(out)
    assert proc.returncode == 0, proc.stderr
    page = (out / "report.html").read_text()
    figures = _figures(page)
    assert list(figures) == ["asr-vs-amount", "clean-cost", "recall-vs-asr", "harm"]
    text = {name: _svg_text(svg) for name, svg in figures.items()}
    everything = " ".join(text.values())
    for label in AXIS_LABELS:
        assert label in everything, label
    # both kinds of amount get a panel, and each line is named in its legend
    assert "ASR against poisoned passages per target" in text["asr-vs-amount"]
    assert "ASR against poison rate" in text["asr-vs-amount"]
    for series in ("poisonedrag-blackbox / none", "poisonedrag-blackbox / provenance"):
        assert series in text["asr-vs-amount"] and series in text["recall-vs-asr"]
    assert "cost +0.000" in text["clean-cost"]  # provenance costs nothing on clean questions here
    assert "harm-weighted" in text["harm"] and "high severity (2 targets)" in text["harm"]
    assert "pooled over seeds 0, 1" in page
    assert not re.search(r"\b(nan|NaN|inf|None)\b", page), "a missing value leaked into the page"
    cells = page[page.index('<h2 id="cells">'):page.index('<h2 id="harm-table">')]
    assert "<td>N=1</td>" in cells and "<td>rate=0.2</td>" in cells
    assert "attack_params" not in cells  # no attack was given params
    assert cells.count("<tr>") == 1 + 2 * 4 * 2  # header, then 2 seeds x 4 conditions x 2 defenses
    harm = page[page.index('<h2 id="harm-table">'):]
    assert harm.count("<tr>") == 1 + 3 * 2  # header, then 3 amounts x 2 defenses, seeds pooled
    assert _report(out).returncode == 0 and (out / "report.html").read_text() == page  # same run, same page


def test_report_of_a_run_without_attacks_and_of_no_run(tiny, tmp_path):
    out = _run(tiny, tmp_path / "run", "attacks=[none]")
    assert _report(out).returncode == 0
    page = (out / "report.html").read_text()
    assert list(_figures(page)) == ["clean-cost"] and "No attacked cell in this run" in page
    missing = _report(tmp_path / "nothing")
    assert missing.returncode == 2 and "not a finished run" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
