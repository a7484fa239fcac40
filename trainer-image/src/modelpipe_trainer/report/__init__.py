"""``report.html``: the run's self-contained report, written next to the model.

    facts of the run ─▶ analysis (curves, matrix, residuals, importance, history)
                     ─▶ page (HTML with inline SVG) ─▶ bytes in the model directory

:func:`build_report` is the one entry; the training code calls it with what it already has.
"""

from modelpipe_trainer.report.build import REPORT_FILE, build_report

__all__ = ["REPORT_FILE", "build_report"]
