"""The real console script in a subprocess: exit codes, stdout, serve and SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "modelpipe_trainer"]


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def test_train_from_yaml_file(
    make_config: Callable[..., dict[str, Any]], iris_csv: Path, tmp_path: Path
) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(make_config(iris_csv)))
    done = subprocess.run(
        [*CLI, "train", "--config", str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert json.loads(line)["outcome"] == "Succeeded"
    assert "Wrote model v1" in done.stderr


@pytest.mark.parametrize(
    ("config", "code"),
    [({"modelVersion": "v1"}, 2), (None, 3)],
    ids=["invalid-config", "validation-failed"],
)
def test_exit_codes(
    make_config: Callable[..., dict[str, Any]],
    tmp_path: Path,
    config: dict[str, Any] | None,
    code: int,
) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    env = {
        **os.environ,
        "MODELPIPE_RUN_CONFIG": json.dumps(config or make_config(tmp_path / "empty.csv")),
    }
    done = subprocess.run([*CLI, "validate"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == code
    assert "Traceback" not in done.stderr
    assert json.loads(done.stdout)["outcome"] in ("InvalidConfig", "ValidationFailed")


class _Server:
    def __init__(self, process: subprocess.Popen[str], base: str) -> None:
        self.process, self.base = process, base


@pytest.fixture
def server(iris_model: Path) -> Iterator[_Server]:
    host = "127.1.33.7"  # a pod-like loopback address, bound directly (no interface change)
    port = _free_port(host)
    env = {
        **os.environ,
        "MODEL_DIR": str(iris_model),
        "MODEL_NAME": "iris",
        "POD_IP": host,
        "PORT": str(port),
    }
    process = subprocess.Popen([*CLI, "serve"], env=env, stderr=subprocess.PIPE, text=True)
    base = f"http://{host}:{port}"
    try:
        _wait_ready(base, process)
        yield _Server(process, base)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        assert process.stderr is not None
        process.stderr.close()


def _wait_ready(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited during startup"
        try:
            if httpx.get(f"{base}/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("the server did not become ready within 60 s")


def test_serve_binds_pod_ip_and_answers(server: _Server) -> None:
    meta = httpx.get(f"{server.base}/v2/models/iris").json()
    assert meta["versions"] == ["v1"]
    row = {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}
    answer = httpx.post(f"{server.base}/predict", json={"instances": [row]}).json()
    assert answer["predictions"] == ["virginica"]


def _read_response(sock: socket.socket) -> str:
    """Headers and the whole body: one recv() may return the headers alone."""
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode()


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def test_sigterm_finishes_in_flight_requests(server: _Server) -> None:
    body = json.dumps(
        {
            "instances": [
                {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
            ]
        }
    ).encode()
    host, port = server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = (
            "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body[:10])  # the request is now in flight
        time.sleep(0.5)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        sock.sendall(body[10:])
        response = _read_response(sock)
    assert response.startswith("HTTP/1.1 200"), response
    assert '"predictions":["setosa"]' in response
    assert server.process.wait(timeout=30) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.base}/v2/health/ready", timeout=1)


def test_serve_refuses_a_tampered_model(tampered_model: Path) -> None:
    model_dir = tampered_model
    port = str(_free_port("127.0.0.1"))
    done = subprocess.run(  # the skops file is only loaded by the scikit-learn runtime
        [*CLI, "serve", "--model-dir", str(model_dir), "--port", port, "--runtime", "sklearn"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 6
    assert "refused to serve the model" in done.stderr
    assert "builtins.eval" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_without_model_dir(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MODEL_DIR"}
    done = subprocess.run([*CLI, "serve"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert "--model-dir" in done.stderr
