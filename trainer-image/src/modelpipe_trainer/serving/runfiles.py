"""``/report`` and ``/runs/{version}/{file}``: a pipeline's run records, read-only.

The serving pod mounts the pipeline's artifacts directory, where every trained version
keeps its report, its training log and its documents. Serving them here lets
``kubectl modelpipe`` read them through the API server's pod proxy (with the user's own
RBAC: ``pods/proxy``) after the training Job and its pod are gone. Only a fixed list of
file names is served, from directories next to the served model's; a version is one path
segment, so nothing else on the volume is reachable.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

REPORT_FILE = "report.html"
RUN_FILES = {
    REPORT_FILE: "text/html; charset=utf-8",
    "train.log": "text/plain; charset=utf-8",
    "lineage.json": "application/json",
    "metrics.json": "application/json",
    "schema.json": "application/json",
}
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# The report is static: no script may run, nothing may be fetched, inline CSS and SVG only.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "X-Content-Type-Options": "nosniff",
}


class RunFiles:
    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        self.root = model_dir.parent

    async def report(self, request: Request) -> Response:
        """The served model's report."""
        return self._file(self.model_dir, REPORT_FILE)

    async def run_file(self, request: Request) -> Response:
        version = request.path_params["version"]
        name = request.path_params["file"]
        if name not in RUN_FILES:
            return _error(404, f"no such run file {name!r}; one of {', '.join(sorted(RUN_FILES))}")
        if not _VERSION.fullmatch(version) or ".." in version:
            return _error(404, f"{version!r} is not a model version")
        return self._file(self.root / version, name)

    def _file(self, directory: Path, name: str) -> Response:
        path = directory / name
        if not path.is_file():
            what = "report" if name == REPORT_FILE else name
            return _error(
                404,
                f"model {directory.name} has no {what} (trained before modelpipe kept one, "
                "or not trained on this volume)",
            )
        return FileResponse(path, media_type=RUN_FILES[name], headers=HEADERS)


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
