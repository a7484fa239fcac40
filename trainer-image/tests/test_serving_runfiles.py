"""/report and /runs/{version}/{file}: the run records the serving pod hands out, and no more."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from modelpipe_trainer.serving.app import create_app
from modelpipe_trainer.serving.loading import load_served


async def test_report_is_the_served_models_with_a_strict_policy(
    iris_client: httpx.AsyncClient,
) -> None:
    answer = await iris_client.get("/report")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert '<svg class="chart" data-chart="confusion"' in answer.text


@pytest.mark.parametrize(
    ("file", "needle"),
    [
        ("train.log", "Scored candidate"),
        ("lineage.json", '"modelVersion"'),
        ("report.html", "<svg"),
    ],
)
async def test_a_runs_files_by_version(
    iris_client: httpx.AsyncClient, file: str, needle: str
) -> None:
    answer = await iris_client.get(f"/runs/v1/{file}")
    assert answer.status_code == 200
    assert needle in answer.text


@pytest.mark.parametrize(
    "path",
    [
        "/runs/v1/model.skops",  # not a record
        "/runs/v1/..%2Fv1%2Flineage.json",
        "/runs/../lineage.json",
        "/runs/..%2F..%2Fetc/report.html",
        "/runs/.tmp-v1/report.html",
        "/runs/nope/report.html",
    ],
)
async def test_nothing_else_on_the_volume_is_reachable(
    iris_client: httpx.AsyncClient, path: str
) -> None:
    answer = await iris_client.get(path)
    assert answer.status_code == 404
    assert "error" in answer.json()


async def test_a_model_from_before_reports_says_so(iris_model: Path, tmp_path: Path) -> None:
    old = tmp_path / "artifacts" / "v0"
    shutil.copytree(iris_model, old)
    (old / "report.html").unlink()
    bundle = load_served(old)
    transport = httpx.ASGITransport(app=create_app(bundle, name="iris"))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answer = await http.get("/report")
    assert answer.status_code == 404
    assert answer.json()["error"].startswith("model v0 has no report")
