"""Iris dataset versions for the example pipeline, and a tiny HTTP server for them.

    python examples/iris/datasets.py make DIR               # write every version
    python examples/iris/datasets.py serve DIR --port 8765  # serve DIR on 127.0.0.1

The data comes from scikit-learn's bundled copy of iris (no network needed):
- ``v1.csv``: 120 rows sampled with seed 1;
- ``v2.csv``: all 150 rows;
- ``bad.csv``: v2 with negative petal lengths, rejected by the schema (min 0);
- ``shuffled.csv``: v2 with the labels shuffled, so no model clears the gate;
- ``swapped.csv``: v2 with setosa and virginica swapped: a consistent corruption, so its
  model clears the accuracy gate but disagrees with a good one (a shadow rejects it).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import threading
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_iris

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris_frame() -> pd.DataFrame:
    bunch = load_iris(as_frame=True)
    frame = bunch.frame.copy()
    frame.columns = [*COLUMNS, "species"]
    frame["species"] = [str(bunch.target_names[i]) for i in bunch.target]
    return frame


def make(directory: Path) -> dict[str, Path]:
    """Write every dataset version into ``directory``; returns name -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    full = iris_frame()
    bad = full.copy()
    bad.loc[bad.index[:20], "petal_length"] = -1.0
    shuffled = full.copy()
    shuffled["species"] = shuffled["species"].sample(frac=1.0, random_state=7).to_numpy()
    swapped = full.copy()
    swapped["species"] = swapped["species"].replace({"setosa": "virginica", "virginica": "setosa"})
    versions = {
        "v1": full.sample(n=120, random_state=1),
        "v2": full,
        "bad": bad,
        "shuffled": shuffled,
        "swapped": swapped,
    }
    paths = {}
    for name, frame in versions.items():
        path = directory / f"{name}.csv"
        frame.to_csv(path, index=False)
        paths[name] = path
    return paths


class DataServer:
    """Serve a directory over HTTP on a loopback address, in a background thread."""

    def __init__(self, directory: Path, *, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self._server = http.server.ThreadingHTTPServer((host, port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> DataServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["make", "serve"])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    if args.command == "make":
        for name, path in make(args.directory).items():
            print(f"{name}: {path}")
        return
    with DataServer(args.directory, port=args.port) as server:
        print(f"Serving {args.directory} at {server.url}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
