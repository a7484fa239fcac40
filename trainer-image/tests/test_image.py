"""The image's build inputs: Dockerfile lint and invariants, and locks that cannot drift."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

TRAINER = Path(__file__).resolve().parents[1]
REPO = TRAINER.parent
DOCKERFILE = TRAINER / "Dockerfile"
EXPORT = [
    *("uv", "export", "--package", "modelpipe-trainer"),
    *("--no-dev", "--frozen", "--no-emit-workspace"),
]


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed; run `uv sync --all-packages`")
    return found


def test_hadolint_passes() -> None:
    done = subprocess.run([_tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_lock_matches_uv_export() -> None:
    done = subprocess.run([_tool("uv"), *EXPORT[1:]], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (TRAINER / "requirements.lock").read_text() == done.stdout, (
        "trainer-image/requirements.lock has drifted from uv.lock; regenerate it with\n"
        f"  {' '.join(EXPORT)} > trainer-image/requirements.lock"
    )


def _requirements(path: Path) -> dict[str, str]:
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", path.read_text(), re.MULTILINE))
    blocks = [b for b in re.split(r"\n(?=[A-Za-z0-9_.-]+==)", path.read_text()) if "==" in b]
    assert all("--hash=sha256:" in block for block in blocks), f"{path.name}: a pin lacks hashes"
    return pins


def test_locks_pin_everything_with_hashes() -> None:
    runtime = _requirements(TRAINER / "requirements.lock")
    declared = tomllib.loads((TRAINER / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in declared:
        name = re.split(r"[<>=!~ \[]", requirement)[0].lower()
        if name == "modelpipe-contract":
            continue  # ours, a wheel built next to the trainer's
        assert name in runtime, f"{name} is a dependency but not in requirements.lock"
    # Our wheels are built and installed separately.
    assert "modelpipe-trainer" not in runtime
    assert "modelpipe-contract" not in runtime
    build = _requirements(TRAINER / "requirements-build.lock")
    assert "hatchling" in build


def test_dockerfile_invariants() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert len(stages) >= 2, "the image must be multi-stage"
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base[1])
    assert text.count("--require-hashes") == 2  # runtime lock and build lock
    assert "--no-build-isolation" in text  # nothing unpinned is fetched to build the wheel
    users = re.findall(r"^USER (\S+)$", text.split(stages[-1])[-1], re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert 'org.opencontainers.image.revision="${VCS_REF}"' in text
    assert re.search(r"^ARG VCS_REF", text, re.MULTILINE)
    assert 'ENTRYPOINT ["modelpipe-trainer"]' in text


@pytest.mark.slow
def test_dockerfile_steps_install_from_the_locks(tmp_path: Path) -> None:
    """Replay the Dockerfile's RUN steps in fresh venvs (no Docker here): the locks must
    install with --require-hashes, the wheel must build offline, and `pip check` must pass."""
    python = sys.executable
    build, runtime, dist = tmp_path / "build", tmp_path / "runtime", tmp_path / "dist"
    pip_flags = ["--disable-pip-version-check", "--quiet", "--no-cache-dir"]

    def run(*args: str | Path) -> None:
        done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"

    run(python, "-m", "venv", build)
    run(build / "bin/pip", "install", *pip_flags, "--require-hashes", "--only-binary=:all:",
        "-r", TRAINER / "requirements-build.lock")  # fmt: skip
    run(build / "bin/pip", "wheel", *pip_flags, "--no-deps", "--no-build-isolation",
        "-w", dist, TRAINER, TRAINER / "contract")  # fmt: skip
    run(python, "-m", "venv", runtime)
    run(runtime / "bin/pip", "install", *pip_flags, "--require-hashes", "--no-deps",
        "--only-binary=:all:", "-r", TRAINER / "requirements.lock")  # fmt: skip
    (wheel,) = dist.glob("modelpipe_trainer-*.whl")
    (contract,) = dist.glob("modelpipe_contract-*.whl")
    run(runtime / "bin/pip", "install", *pip_flags, "--no-deps", wheel, contract)
    run(runtime / "bin/pip", "check")
    run(runtime / "bin/modelpipe-trainer", "--help")
    run(runtime / "bin/python", "-c", "import modelpipe_trainer.serving.server, sklearn, skops")
