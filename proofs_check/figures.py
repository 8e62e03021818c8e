"""The figures of the claims' ``plot`` functions: labelled panels on a matplotlib ``Figure`` (no pyplot state, so
plots are safe in any thread or worker), and legends drawn only where something is labelled."""
from __future__ import annotations


def panels(*labels: tuple[str, str, str], suptitle: str | None = None, size: tuple[float, float] | None = None,
           title_size: int = 9):
    """``(figure, axes)``: one panel per ``(title, xlabel, ylabel)``, side by side in a constrained layout, each
    titled and labelled; ``suptitle`` over them all. ``size`` in inches defaults to 4.4 wide per panel plus 2,
    by 4.2."""
    from matplotlib.figure import Figure

    if not labels:
        raise ValueError("panels needs at least one (title, xlabel, ylabel)")
    fig = Figure(figsize=size or (4.4 * len(labels) + 2.0, 4.2), layout="constrained")
    axes = list(fig.subplots(1, len(labels), squeeze=False)[0])
    for ax, (title, xlabel, ylabel) in zip(axes, labels):
        ax.set_title(title, fontsize=title_size)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return fig, axes


def legend(*axes, **kw) -> None:
    """Each axes' legend, where something on it is labelled (runs without numbers draw nothing); ``kw`` go to
    ``Axes.legend``."""
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(**kw)


def legend_beside(*axes, fontsize: int = 7) -> None:
    """``legend`` to the right of each axes, beside the data rather than on it."""
    legend(*axes, fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
