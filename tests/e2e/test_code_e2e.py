"""Code from git on the real cluster: the checkout at the pinned revision, its training
config file, and a failing code test that stops everything before training."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.e2e.harness import (
    Namespace,
    Operator,
    claim_directory,
    condition,
    example_documents,
    model_metadata,
    predict,
    promoted,
    serving_version,
    settled,
)
from tests.sources.servers import GitServer

from localkube.reach import exposed

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]
PASSING = "print('2 passed')\n"
FAILING = (
    "import sys\nprint('FAILED test_features.py::test_scaling - assert 0.3 == 0.5')\nsys.exit(1)\n"
)


def tree_config(depth: int) -> str:
    return (
        "estimator:\n"
        "  className: sklearn.tree.DecisionTreeClassifier\n"
        f"  params: {{max_depth: {depth}, random_state: 0}}\n"
    )


class CodeRepo:
    """A bare repository ``model.git`` under ``root``, committed to from a work tree."""

    def __init__(self, root: Path) -> None:
        self.bare, self.work = root / "model.git", root / "work"
        self._git("init", "-q", "--bare", "-b", "main", str(self.bare))
        self._git("init", "-q", "-b", "main", str(self.work))

    def commit(self, files: dict[str, str]) -> str:
        for name, text in files.items():
            (self.work / name).write_text(text)
        self._git("-C", str(self.work), "add", *files)
        self._git("-C", str(self.work), "commit", "-q", "-m", f"change {', '.join(files)}")
        self._git("-C", str(self.work), "push", "-q", str(self.bare), "main")
        return self._git("-C", str(self.work), "rev-parse", "HEAD").strip()

    @staticmethod
    def _git(*args: str) -> str:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": "/nonexistent",
            "GIT_CONFIG_NOSYSTEM": "1",
            **{
                f"GIT_{who}_{what}": value
                for who in ("AUTHOR", "COMMITTER")
                for what, value in (("NAME", "t"), ("EMAIL", "t@example.invalid"))
            },
        }
        done = subprocess.run(["git", *args], env=env, capture_output=True, text=True, check=True)
        return done.stdout


def test_git_checkout_config_file_and_failing_code_test(
    ns: Namespace, operator: Operator, data_url: str, tmp_path: Path
) -> None:
    repo = CodeRepo(tmp_path)
    pinned = repo.commit({"train.yaml": tree_config(2), "check.py": PASSING})
    repo.commit({"train.yaml": tree_config(4)})  # the branch moves on; the pipeline pins `pinned`
    server = GitServer(tmp_path)
    server.start()
    try:
        with exposed(ns.cluster, server.base_url) as base_url:
            git = {"url": f"{base_url}/model.git", "configFile": "train.yaml"}
            code = {"revision": pinned, "git": git, "test": {"command": ["python", "check.py"]}}
            assert ns.apply(*example_documents(data_url=data_url, code=code)).returncode == 0
            first = promoted(ns, timeout=180)

            # The trainer took its estimator from the file at the pinned revision, not the spec.
            lineage = model_metadata(ns)["lineage"]
            assert lineage["estimator"] == "sklearn.tree.DecisionTreeClassifier"
            assert lineage["params"]["max_depth"] == 2
            assert lineage["codeRevision"] == pinned

            broken = repo.commit({"check.py": FAILING})
            ns.patch("iris", {"spec": {"code": {"revision": broken}}})
            pipeline = settled(ns, "CodeValidationFailed", timeout=120)
    finally:
        server.stop()
    rejected = pipeline["status"]["lastRun"]
    assert "FAILED test_features.py::test_scaling" in rejected["message"]
    assert condition(pipeline, "Training") == ("False", "CodeValidationFailed")
    assert condition(pipeline, "Ready") == ("False", "CodeValidationFailed")
    assert any("test_scaling" in m for m in ns.events("CodeValidationFailed"))
    # Nothing trained: the train container never started and no model directory was written.
    pods = ns.items("pods", f"job-name={rejected['jobName']}")
    assert pods
    for pod in pods:
        train = next(c for c in pod["status"]["containerStatuses"] if c["name"] == "train")
        assert "terminated" not in train["state"] and "running" not in train["state"]
    assert not (claim_directory(ns) / "iris" / rejected["modelVersion"]).exists()
    assert (claim_directory(ns) / "iris" / first).is_dir()
    # Production untouched.
    assert serving_version(pipeline) == first
    answer = predict(ns)
    assert answer is not None and answer["model_version"] == first
