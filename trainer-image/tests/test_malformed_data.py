"""Malformed data files, fuzzed: each one is a ValidationFailed report (exit 3), never a crash.

Every strategy below builds a file that is wrong for the schema *by construction* (a truncated
table has fewer than ``minRows`` rows, a wrong delimiter leaves the declared columns missing,
...), so the property is exact: exit 3, outcome ValidationFailed, at least one failure, no model
directory. The fuzz runs the CLI entry in-process (fast); two subprocess cases prove the real
exit codes. ``MODELPIPE_FUZZ_EXAMPLES`` raises the example count for a longer local run.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelpipe_trainer import cli

TARGET = "species"
FEATURES = ["size", "colour"]
COLUMNS = [*FEATURES, TARGET]
MIN_ROWS = 5
ESTIMATORS = {
    "classification": "sklearn.linear_model.LogisticRegression",
    "regression": "sklearn.linear_model.Ridge",
}
FUZZ = settings(
    max_examples=int(os.environ.get("MODELPIPE_FUZZ_EXAMPLES", "20")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Row = tuple[object, ...]


def _config(data: Path, work: Path, fmt: str, task: str = "classification") -> dict[str, Any]:
    return {
        "pipeline": "fuzz",
        "modelVersion": "v1",
        "task": task,
        "dataset": {"uri": str(data), "version": "1", "format": fmt},
        "schema": {
            "target": TARGET,
            "minRows": MIN_ROWS,
            "features": [
                {"name": "size", "min": 0, "max": 1000},
                {"name": "colour", "kind": "categorical"},
            ],
        },
        "estimator": {"className": ESTIMATORS[task]},
        "artifactsDir": str(work / "artifacts"),
        "terminationMessagePath": str(work / "termination-log"),
    }


def run_cli(
    data: bytes,
    fmt: str,
    command: str = "validate",
    *,
    task: str = "classification",
    as_eval: bool = False,
) -> tuple[int, dict[str, Any]]:
    """``modelpipe-trainer COMMAND --config FILE`` in-process on ``data``: (exit code, result).

    ``as_eval``: ``data`` is the evalDataset, next to a valid training dataset.
    """
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / f"data.{fmt}").write_bytes(data)
        document = _config(work / f"data.{fmt}", work, fmt, task)
        if as_eval:
            labels = ["cat", "dog"] if task == "classification" else [1.5, 2.5]
            train = [(i, "red", labels[i % 2]) for i in range(2 * MIN_ROWS)]
            (work / "train.csv").write_bytes(to_csv(COLUMNS, train))
            document["evalDataset"] = document["dataset"]
            document["dataset"] = {"uri": str(work / "train.csv"), "version": "1"}
        config = work / "config.json"
        config.write_text(json.dumps(document))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli.main([command, "--config", str(config)])
        assert not (work / "artifacts").exists() or not any((work / "artifacts").iterdir())
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines
    return code, json.loads(lines[0])


def assert_reported(code: int, result: dict[str, Any]) -> None:
    assert (code, result["outcome"]) == (3, "ValidationFailed"), result
    assert result["message"].startswith(("data validation failed", "cannot read")), result
    assert result["failures"], result


# -- building blocks: a valid table, written as CSV or Parquet ---------------------------------

rows = st.lists(
    st.tuples(
        st.integers(0, 1000),
        st.sampled_from(["red", "green", "blue"]),
        st.sampled_from(["cat", "dog"]),
    ),
    min_size=MIN_ROWS,
    max_size=30,
)


def to_csv(header: list[str], body: Sequence[Row], sep: str = ",") -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=sep, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(body)
    return text.getvalue().encode()


def to_parquet(header: list[str], body: Sequence[Row]) -> bytes:
    columns = [pa.array([row[i] for row in body]) for i in range(len(header))]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(columns, names=header), buffer)
    return buffer.getvalue()


def write(fmt: str, header: list[str], body: Sequence[Row]) -> tuple[bytes, str]:
    return (to_csv(header, body) if fmt == "csv" else to_parquet(header, body)), fmt


formats = st.sampled_from(["csv", "parquet"])


# -- the malformed files -----------------------------------------------------------------------

random_bytes = st.tuples(st.binary(max_size=4096), formats)


@st.composite
def truncated(draw: st.DrawFn) -> tuple[bytes, str]:
    """Cut before the end of row ``MIN_ROWS - 1`` (CSV), or anywhere (Parquet has a footer)."""
    body: list[Row] = list(draw(rows))
    if draw(formats) == "parquet":
        data = to_parquet(COLUMNS, body)
        return data[: draw(st.integers(0, len(data) - 1))], "parquet"
    lines = to_csv(COLUMNS, body).splitlines(keepends=True)
    limit = len(b"".join(lines[:MIN_ROWS]).rstrip(b"\n"))
    return b"".join(lines)[: draw(st.integers(0, limit))], "csv"


@st.composite
def wrong_delimiter(draw: st.DrawFn) -> tuple[bytes, str]:
    return to_csv(COLUMNS, draw(rows), sep=draw(st.sampled_from([";", "\t", "|", " "]))), "csv"


@st.composite
def html_page(draw: st.DrawFn) -> tuple[bytes, str]:
    """What a login page or a 404 page served with status 200 looks like."""
    title = draw(st.text(max_size=40))
    body = draw(st.lists(st.text(max_size=80), max_size=8))
    page = "<!DOCTYPE html>\n<html><head><title>" + title + "</title></head>\n<body>\n"
    page += "\n".join(f"<p>{line}</p>" for line in body) + "\n</body></html>\n"
    return page.encode(), draw(formats)


@st.composite
def binary_file(draw: st.DrawFn) -> tuple[bytes, str]:
    body: list[Row] = list(draw(rows))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("data.csv", to_csv(COLUMNS, body))
    blobs = {
        "gzip": gzip.compress(to_csv(COLUMNS, body)),
        "zip": archive.getvalue(),
        "png": b"\x89PNG\r\n\x1a\n" + draw(st.binary(max_size=512)),
        "elf": b"\x7fELF\x02\x01\x01" + bytes(64),
        "nul": bytes(draw(st.integers(1, 4096))),
        "parquet-as-csv": to_parquet(COLUMNS, body),
    }
    name = draw(st.sampled_from(sorted(blobs)))
    fmt = "csv" if name == "parquet-as-csv" else draw(formats)
    return blobs[name], fmt


@st.composite
def huge_field(draw: st.DrawFn) -> tuple[bytes, str]:
    """One numeric field of up to 256 KiB of text; or an unterminated quote swallowing the rest."""
    body: list[Row] = list(draw(rows))
    size = draw(st.integers(10_000, 1 << 18))
    if draw(st.booleans()):
        body = [(str(row[0]), *row[1:]) for row in body]  # one type per Parquet column
        body[draw(st.integers(0, len(body) - 1))] = ("x" * size, "red", "cat")
        return write(draw(formats), COLUMNS, body)
    return to_csv(COLUMNS, body) + b'1,"' + b"y," * (size // 2) + b"\n", "csv"


@st.composite
def missing_columns(draw: st.DrawFn) -> tuple[bytes, str]:
    dropped = draw(st.sets(st.sampled_from(COLUMNS), min_size=1))
    keep = [i for i, name in enumerate(COLUMNS) if name not in dropped] or None
    body: list[Row] = list(draw(rows))
    if keep is None:  # nothing declared is left: some other column stands in
        return write(draw(formats), ["other"], [(1,) for _ in body])
    header = [COLUMNS[i] for i in keep]
    return write(draw(formats), header, [tuple(row[i] for i in keep) for row in body])


@st.composite
def duplicate_columns(draw: st.DrawFn) -> tuple[bytes, str]:
    twice = draw(st.integers(0, len(COLUMNS) - 1))
    body = [(*row, row[twice]) for row in draw(rows)]
    return write(draw(formats), [*COLUMNS, COLUMNS[twice]], body)


@st.composite
def not_utf8(draw: st.DrawFn) -> tuple[bytes, str]:
    body: list[Row] = list(draw(rows))
    accent = draw(st.sampled_from("éüßñøÅ"))
    at = draw(st.integers(0, len(body) - 1))
    body[at] = (body[at][0], f"{body[at][1]}{accent}", body[at][2])
    text = to_csv(COLUMNS, body).decode()
    return text.encode(draw(st.sampled_from(["latin-1", "cp1252", "utf-16", "utf-32"]))), "csv"


blank = st.tuples(st.sampled_from([b"", b"\n", b"\r\n\r\n", b"   ", b"\t\n", b","]), formats)


@st.composite
def header_only(draw: st.DrawFn) -> tuple[bytes, str]:
    if draw(formats) == "parquet":
        return to_parquet(COLUMNS, []), "parquet"
    return to_csv(COLUMNS, []).rstrip(b"\n" if draw(st.booleans()) else b""), "csv"


@st.composite
def mixed_types(draw: st.DrawFn) -> tuple[bytes, str]:
    """A numeric column with text (or not-finite numbers) among the numbers."""
    body: list[Row] = list(draw(rows))
    bad = ["wide", "n/a", "NA", "null", "None", "-", "?", "1,5", "$3", "nan", "inf", "-1e400"]
    for at in draw(st.sets(st.integers(0, len(body) - 1), min_size=1)):
        body[at] = (draw(st.sampled_from(bad)), body[at][1], body[at][2])
    return to_csv(COLUMNS, body), "csv"


@st.composite
def ragged_rows(draw: st.DrawFn) -> tuple[bytes, str]:
    """Rows wider than the header; pandas would silently shift them under an inferred index."""
    body: list[Row] = list(draw(rows))
    wide = draw(st.sets(st.integers(0, len(body) - 1), min_size=1))
    body = [(*row, "extra") if i in wide else row for i, row in enumerate(body)]
    return to_csv(COLUMNS, body), "csv"


@st.composite
def nested_values(draw: st.DrawFn) -> tuple[bytes, str]:
    """Parquet lists or structs where the schema expects plain values."""
    body: list[Row] = list(draw(rows))
    column = draw(st.integers(0, len(COLUMNS) - 1))
    nested = draw(st.sampled_from(["list", "struct"]))
    values = [[row[column]] if nested == "list" else {"v": row[column]} for row in body]
    arrays = [pa.array([row[i] for row in body]) for i in range(len(COLUMNS))]
    arrays[column] = pa.array(values)
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, names=COLUMNS), buffer)
    return buffer.getvalue(), "parquet"


MALFORMED = {
    "random-bytes": random_bytes,
    "truncated": truncated(),
    "wrong-delimiter": wrong_delimiter(),
    "html": html_page(),
    "binary": binary_file(),
    "huge-field": huge_field(),
    "missing-columns": missing_columns(),
    "duplicate-columns": duplicate_columns(),
    "not-utf8": not_utf8(),
    "blank": blank,
    "header-only": header_only(),
    "mixed-types": mixed_types(),
    "ragged-rows": ragged_rows(),
    "nested-values": nested_values(),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_file_is_a_validation_report(kind: str) -> None:
    @FUZZ
    @given(MALFORMED[kind])
    def check(case: tuple[bytes, str]) -> None:
        assert_reported(*run_cli(*case))

    check()


@FUZZ
@given(
    st.one_of(*MALFORMED.values()),
    st.sampled_from(["classification", "regression"]),
    st.booleans(),
)
def test_train_reports_malformed_files_too(
    case: tuple[bytes, str], task: str, as_eval: bool
) -> None:
    """Either task, and the malformed file as the dataset or as the evalDataset."""
    code, result = run_cli(*case, command="train", task=task, as_eval=as_eval)
    assert_reported(code, result)
    if as_eval:
        assert all(f["message"].startswith("evalDataset: ") for f in result["failures"]), result


@given(rows, formats)
@FUZZ
def test_the_valid_tables_the_fuzz_starts_from_pass(body: list[Row], fmt: str) -> None:
    """The strategies break a valid table: it is valid but for the class balance a split needs."""
    code, result = run_cli(*write(fmt, COLUMNS, body))
    if code != 0:  # a split needs two rows per class and a holdout row per class
        checks = {f["check"] for f in result["failures"]}
        assert checks <= {"target_classes", "class_size", "holdout_size"}, result


# -- the real process: exit codes as the kubelet sees them -------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "data",
    [
        b"<!DOCTYPE html>\n<html><body><p>Please sign in</p></body></html>\n",
        to_csv(FEATURES, [(1, "red")] * MIN_ROWS),
    ],
    ids=["html-page", "no-target-column"],
)
def test_process_exits_3_with_the_report(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "data.csv").write_bytes(data)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(_config(tmp_path / "data.csv", tmp_path, "csv")))
    done = subprocess.run(
        [sys.executable, "-m", "modelpipe_trainer", "train", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    result = json.loads(done.stdout)
    assert result == json.loads((tmp_path / "termination-log").read_text())
    assert result["outcome"] == "ValidationFailed"
    assert "column 'species' is missing" in " ".join(f["message"] for f in result["failures"])
    assert "Traceback" not in done.stderr
