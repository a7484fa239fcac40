"""kubectl modelpipe's command line: what users type is refused clearly or run, never a trace.

No cluster: ``KUBECONFIG`` names a file that does not exist, so every argv that parses
ends at "cannot load the kubeconfig" (exit 1) before any request.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelpipe.cli.codes import ExitCode
from modelpipe.cli.main import main

EXAMPLES = int(os.environ.get("MODELPIPE_FUZZ_EXAMPLES", "200"))
WORDS = [
    "status", "history", "diff", "logs", "report", "retrain", "pin", "unpin", "iris", "v1",
    "-n", "--namespace", "-o", "--output", "json", "yaml", "table", "--run", "--open", "--file",
    "--kubeconfig", "--context", "--help", "-h", "--", "-", "",
]  # fmt: skip
CODES = {int(c) for c in ExitCode}


@pytest.fixture(autouse=True)
def no_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config either
    monkeypatch.chdir(tmp_path)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(argv=st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=20)), max_size=8))
def test_any_argv_ends_in_a_documented_exit_code(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code in CODES
    assert "Traceback" not in err + out
    if code not in (ExitCode.OK,):
        assert err.strip(), "a failure always says why"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["stat", "iris"], "invalid choice: 'stat'"),
        (["status"], "the following arguments are required: NAME"),
        (["status", "iris", "--bogus"], "unrecognized arguments: --bogus"),
        (["status", "Iris"], "'Iris' is not a ModelPipeline name"),
        (["status", "iris", "-o", "xml"], "invalid choice: 'xml'"),
        (["pin", "iris", "../v1"], "'../v1' is not a model version"),
        (["diff", "iris", "v1"], "required: V2"),
        (["stat", "iris", "--stat"], "invalid choice"),  # abbreviations are not guessed
        (["status", "iris", "--names", "x"], "unrecognized arguments"),
    ],
)
def test_bad_input_is_a_usage_error_that_names_it(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == ExitCode.USAGE
    assert says in capsys.readouterr().err


def test_a_missing_kubeconfig_is_exit_1_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "iris"]) == ExitCode.ERROR
    assert "error: cannot load the kubeconfig" in capsys.readouterr().err


def test_help_is_exit_0_and_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == ExitCode.OK
    assert "Exit codes: 0 ok, 1 cluster error, 2 usage, 3 not found, 4 forbidden" in (
        capsys.readouterr().out
    )
