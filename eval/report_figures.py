"""The report's figures as inline SVG (matplotlib, text kept as text so it stays searchable and sharp)."""

from __future__ import annotations

import io
import math

from ragpoison.eval.report_data import SEVERITY_WEIGHTS, CleanAccuracy, Point

PALETTE = ("#4c4c4c", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P")


def colours(defenses: list[str]) -> dict[str, str]:
    """One colour per defense, the same in every figure; the undefended pipeline is grey."""
    ordered = ["none"] + sorted(d for d in set(defenses) if d != "none")
    return {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(ordered)}


def line_styles(points: list[Point]) -> dict[tuple[str, str], int]:
    """A line style and marker index per (attack, variant), shared by the figures that tell them apart."""
    return {key: i for i, key in enumerate(dict.fromkeys((p.attack, p.variant) for p in points))}


def _figure(width: float, height: float, ncols: int = 1):
    import matplotlib

    matplotlib.use("Agg")
    # A fixed salt names the SVG's clip paths and markers the same way on every render.
    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "ragpoison", "font.family": "sans-serif",
                                "font.size": 10})
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(width, height), squeeze=False)


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})  # same run, same page
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def asr_against_amount(points: list[Point], baseline: dict[tuple[str, str, str], tuple[float, float, float]],
                       colour: dict[str, str]) -> str:
    """ASR against poison amount, one line per attack / defense with its 95% Wilson band.

    A panel for amounts per target question (with the no-poison rate at N = 0) and one for corpus rates.
    """
    panels = [kind for kind in ("per_target", "rate") if any((p.rate is not None) == (kind == "rate")
                                                              for p in points)]
    fig, axes = _figure(6.2 * len(panels), 4.2, len(panels))
    styles = line_styles(points)
    handles: dict[str, object] = {}
    for ax, kind in zip(axes[0], panels, strict=True):
        for series in dict.fromkeys(p.series for p in points):
            line = [p for p in points if p.series == series and (p.rate is not None) == (kind == "rate")]
            if not line:
                continue
            first = line[0]
            xs = [p.rate if kind == "rate" else p.per_target for p in line]
            ys, lows, highs = [p.asr for p in line], [p.asr_low for p in line], [p.asr_high for p in line]
            zero = baseline.get((first.attack, first.defense, first.variant))
            if kind == "per_target" and zero is not None:
                xs, ys, lows, highs = [0, *xs], [zero[0], *ys], [zero[1], *lows], [zero[2], *highs]
            style = styles[(first.attack, first.variant)]
            kwargs = {"color": colour[first.defense], "linestyle": LINESTYLES[style % len(LINESTYLES)],
                      "marker": MARKERS[style % len(MARKERS)], "label": series}
            handles[series] = ax.plot(xs, ys, **kwargs)[0]
            if len(xs) > 1:
                ax.fill_between(xs, lows, highs, color=colour[first.defense], alpha=0.15, linewidth=0)
            else:
                ax.errorbar(xs, ys, yerr=[[ys[0] - lows[0]], [highs[0] - ys[0]]], color=colour[first.defense],
                            capsize=4, linestyle="none")
        if kind == "rate":
            rates = [p.rate for p in points if p.rate is not None]
            if max(rates) / min(rates) >= 10:
                ax.set_xscale("log")
            ax.set_xlabel("poisoned passages as a fraction of the corpus (poison_rate)")
            ax.set_title("ASR against poison rate")
        else:
            ax.set_xlabel("poisoned passages per target question (N; 0 = no poison)")
            ax.set_title("ASR against poisoned passages per target")
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel("attack success rate (95% Wilson band)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    fig.legend(list(handles.values()), list(handles), loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=min(3, len(handles)), fontsize=8, frameon=False)
    fig.tight_layout()
    return _svg(fig)


def clean_cost(accuracies: list[CleanAccuracy], colour: dict[str, str]) -> str:
    """Clean accuracy of each defense with its 95% Wilson interval, labelled with its cost."""
    fig, axes = _figure(max(4.5, 1.3 * len(accuracies) + 2), 3.8)
    ax = axes[0][0]
    xs = range(len(accuracies))
    values = [a.accuracy for a in accuracies]
    errors = [[a.accuracy - a.low for a in accuracies], [a.high - a.accuracy for a in accuracies]]
    ax.bar(xs, values, yerr=errors, capsize=4, color=[colour[a.defense] for a in accuracies], width=0.6)
    for x, a in zip(xs, accuracies, strict=True):
        cost = "" if a.defense == "none" or math.isnan(a.cost) else f"\ncost {a.cost:+.3f}"
        ax.text(x, 0.04, f"{a.accuracy:.3f}{cost}", ha="center", va="bottom", color="white", fontsize=9,
                fontweight="bold")
    ax.set_xticks(list(xs), [a.label for a in accuracies], rotation=15 if len(accuracies) > 4 else 0)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("clean accuracy (95% Wilson interval)")
    ax.set_title("Clean-accuracy cost of each defense (no poison)")
    ax.grid(axis="y", alpha=0.3)
    return _svg(fig)


def recall_against_asr(points: list[Point], colour: dict[str, str]) -> str:
    """Poison recall@k (retrieval side) against ASR (answer side), one marker per attacked point."""
    fig, axes = _figure(6.2, 4.8)
    ax = axes[0][0]
    ax.plot([0, 1], [0, 1], linestyle="--", color="#aaaaaa", linewidth=1, label="ASR = recall")
    shown = [p for p in points if not math.isnan(p.poison_recall)]
    labelled: dict[tuple[float, float], list[Point]] = {}
    for p in shown:
        labelled.setdefault((round(p.poison_recall, 2), round(p.asr, 2)), []).append(p)
    styles = line_styles(points)
    for series in dict.fromkeys(p.series for p in shown):
        mine = [p for p in shown if p.series == series]
        marker = MARKERS[styles[(mine[0].attack, mine[0].variant)] % len(MARKERS)]
        ax.scatter([p.poison_recall for p in mine], [p.asr for p in mine], s=45, color=colour[mine[0].defense],
                   marker=marker, label=series, zorder=3, edgecolors="white", linewidths=0.5)
    if len(labelled) <= 24:  # name the amounts where the figure has room; points that coincide share a label
        for (x, y), group in labelled.items():
            text = ", ".join(dict.fromkeys(p.amount for p in group))
            left = x > 0.6  # labels of points on the right run leftwards, inside the axes
            ax.annotate(text, (x, y), fontsize=7, xytext=(-6 if left else 6, 4), textcoords="offset points",
                        ha="right" if left else "left", color="#333333")
    ax.set_xlim(-0.03, 1.05)
    ax.set_ylim(-0.03, 1.05)
    ax.set_xlabel("poison recall@k (retrieval-side corruption)")
    ax.set_ylabel("attack success rate (answer-side corruption)")
    ax.set_title("Retrieval-side against answer-side corruption")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return _svg(fig)


def harm_by_severity(points: list[Point], severity_counts: dict[str, int]) -> str:
    """ASR by target severity and the harm-weighted ASR, one group of bars per attacked point."""
    fig, axes = _figure(7.5, 1.2 + 0.55 * len(points))
    ax = axes[0][0]
    keys = [s for s in SEVERITY_WEIGHTS if severity_counts.get(s)] + ["harm-weighted"]
    shades = {"high": "#8c1a1a", "medium": "#d6604d", "low": "#f4a582", "harm-weighted": "#2b2b2b"}
    height = 0.8 / len(keys)
    for i, key in enumerate(keys):
        values = [p.harm_weighted_asr if key == "harm-weighted" else p.severity_asr[key] for p in points]
        ys = [row + (i - (len(keys) - 1) / 2) * height for row in range(len(points))]
        label = key if key == "harm-weighted" else f"{key} severity ({severity_counts.get(key, 0)} targets)"
        present = [(y, v) for y, v in zip(ys, values, strict=True) if not math.isnan(v)]
        ax.barh([y for y, _ in present], [v for _, v in present], height, color=shades[key], label=label,
                edgecolor="#777777", linewidth=0.3)
    for row, p in enumerate(points):
        y = row + (len(keys) - 1) / 2 * height
        ax.text(p.harm_weighted_asr + 0.01, y, f"{p.harm_weighted_asr:.2f}", va="center", fontsize=7)
    ax.set_yticks(range(len(points)), [f"{p.series}  {p.amount}" for p in points], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.08)
    ax.set_xlabel("attack success rate")
    ax.set_title("ASR by target severity, and harm-weighted ASR (weights high 3, medium 2, low 1)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return _svg(fig)
