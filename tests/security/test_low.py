"""Issue 16, finding 6: the smaller holes.

- ``configFile`` followed a symlink out of the checkout, and its YAML error put the
  target file's line (a ``postgres://`` URL with a password) into status (the
  trainer's side: trainer-image/tests/test_configsource.py);
- ``pvc://claim/../../etc/passwd`` with a pinned version read outside the claim;
- ``http://user:pass@`` in a dataset URI reached ``status.lastRun.message`` and events;
- ``git checkout <revision>`` had no ``--``, and option-like revisions or URLs
  (``-``, ``ext::``) were accepted (the clone script: tests/security/test_credentials.py);
- ``ssh://git@host/...`` was refused as "must not contain credentials".
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from modelpipe_contract.result import Outcome, TrainerResult
from pydantic import ValidationError
from tests.e2e.harness import Namespace, example_documents
from tests.operator.builders import job, observe, spec, step, with_
from tests.security.conftest import Tenant

from modelpipe.api.sources import check_url
from modelpipe.api.v1alpha1 import ConditionType, Reason, RunRecord
from modelpipe.observed import JobPhase
from modelpipe.planning.judgement import judge
from modelpipe.sources.gitref import GIT_SCHEMES

PASSWORD = "hunter2-db-password"


def test_a_pinned_pvc_path_out_of_the_claim_starts_no_job() -> None:
    # Refused at admission (CEL on dataset.uri) and by the operator's own parse: a pipeline
    # stored before that rule is an invalid spec, never a Job.
    with pytest.raises(ValidationError) as refused:
        spec(dataset={"uri": "pvc://data/../../etc/passwd", "version": "v1"})
    error = refused.value.errors()[0]
    invalid = with_(observe(), spec=None, spec_error=f"spec.dataset.uri: {error['msg']}")
    planned = step(invalid)
    assert [type(a).__name__ for a in planned.actions] == []
    ready = next(c for c in planned.status.conditions if c.type == ConditionType.READY)
    assert (ready.status, ready.reason) == ("False", Reason.INVALID_SPEC)
    assert "'..'" in ready.message


def test_credentials_in_a_dataset_uri_never_reach_status_or_events() -> None:
    uri = f"https://robot:{PASSWORD}@data.example/iris.csv"
    said = TrainerResult(outcome=Outcome.TRAINING_FAILED, message=f"cannot download {uri}: 404")
    failed = job("0000beef", JobPhase.FAILED, result=said)
    base = RunRecord(model_version="0000beef", job_name="j", input_hash="h", verdict="Running")
    record = judge(job=failed, spec=spec(dataset={"uri": uri, "version": "v1"}), base=base)
    assert PASSWORD not in record.message and "robot" not in record.message
    assert "https://data.example/iris.csv" in record.message
    crashed = replace(failed, result=None, failure_message=f"Error: GET {uri} refused")
    assert PASSWORD not in judge(job=crashed, spec=spec(), base=base).message


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("ssh://git@github.com/org/model.git", False),
        ("ssh://deploy@git.example:2222/model.git", False),
        ("ssh://git:secret@github.com/org/model.git", True),
        ("ssh://git:@github.com/org/model.git", True),
        ("https://robot@git.example/model.git", True),
        ("https://robot:token@git.example/model.git", True),
    ],
)
def test_ssh_urls_may_name_their_user(url: str, refused: bool) -> None:
    problem = check_url(url, schemes=GIT_SCHEMES)
    assert (problem is not None) is refused, problem


# ----- admission, as the tenant ---------------------------------------------------------


@pytest.mark.cluster
@pytest.mark.slow
def test_admission_refuses_escaping_paths_and_option_like_git_input(
    ns: Namespace, tenant: Tenant, data_url: str
) -> None:
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "dotdot": (
            {"dataset": {"uri": "pvc://data/../../etc/passwd", "version": "v1"}},
            "without '..'",
        ),
        "option-revision": (
            {
                "code": {
                    "revision": "--upload-pack=touch /tmp/owned",
                    "git": {"url": "https://git.example/m.git"},
                }
            },
            "must not start with '-'",
        ),
        "ext-url": (
            {"code": {"revision": "v1", "git": {"url": "ext::sh -c touch% /tmp/owned"}}},
            "not an option or a git transport helper",
        ),
        "option-url": (
            {"code": {"revision": "v1", "git": {"url": "--upload-pack=touch /tmp/owned"}}},
            "not an option or a git transport helper",
        ),
    }
    for name, (changes, message) in cases.items():
        _, pipeline = example_documents(data_url=data_url, name=name)
        for key, value in changes.items():
            pipeline["spec"][key] = {**pipeline["spec"][key], **value}
        done = tenant.apply(pipeline)
        assert done.returncode != 0 and message in done.stderr, f"{name}: {done.stderr}"
