"""The calibration report: the estimates as CSV, the scenario fragment, and three figures."""

from __future__ import annotations

import os
from pathlib import Path

from ..outdir import OutputFolder
from .estimate import Calibration

__all__ = ["REPORT_FILES", "write_report"]

_FIGURES = ("lost_per_gap", "loss_per_host", "silences")
#: what a report folder holds (its manifest lists them: simstatus rewrites only these)
REPORT_FILES = ("estimates.csv", "per_host.csv", "calibration.toml",
                *(f"{stem}.{fmt}" for stem in _FIGURES for fmt in ("png", "svg")))


def write_report(calibration: Calibration, folder: str | os.PathLike[str]) -> list[Path]:
    """Write the report into ``folder`` (new, empty or simstatus's own: a user's files are never
    replaced, :class:`~simstatus.outdir.OutputFolderError` otherwise); return the files written."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .. import plotting

    own = OutputFolder.claim(folder)
    own.record(list(REPORT_FILES))
    base = Path(folder)
    written = []
    own.write_text("estimates.csv", calibration.table().to_csv(index=False))
    own.write_text("per_host.csv", calibration.per_host.to_csv(index=False))
    own.write_text("calibration.toml", calibration.fragment_toml())
    written += [base / "estimates.csv", base / "per_host.csv", base / "calibration.toml"]
    drawings = {
        "lost_per_gap": lambda: plotting.loss_runs(calibration.lost_counts(), calibration.predicted_counts(),
                                                   title="Reports lost between two writes"),
        "loss_per_host": lambda: plotting.host_loss(calibration.per_host, calibration.loss,
                                                    title="Lost reports per host"),
        "silences": lambda: plotting.silence_timeline(calibration.silences,
                                                      [(s.start, s.end) for s in calibration.stalls],
                                                      title="Long gaps between writes, and stalls"),
    }
    for stem, draw in drawings.items():
        ax = draw()
        try:
            written += plotting.save_figure(ax, base / stem)
        finally:
            plt.close(ax.get_figure(root=True))
    return written
