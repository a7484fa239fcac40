"""The serving container's probes: ready to answer, alive, and given time to start."""

from __future__ import annotations

from modelpipe.api.config import OperatorConfig
from modelpipe.api.v1alpha1 import ModelPipelineSpec
from modelpipe.api.v1alpha1.serving import Probe
from modelpipe.manifests.common import Manifest

READY_PATH = "/v2/health/ready"
LIVE_PATH = "/v2/health/live"
STARTUP_PERIOD_SECONDS = 5


def serving_probes(probe: Probe, *, startup_window: int) -> Manifest:
    """spec.serving.readinessProbe, and the start-up and liveness probes the operator sets."""
    return {
        "readinessProbe": {
            "httpGet": {"path": READY_PATH, "port": "http"},
            "initialDelaySeconds": probe.initial_delay_seconds,
            "periodSeconds": probe.period_seconds,
            "timeoutSeconds": probe.timeout_seconds,
            "failureThreshold": probe.failure_threshold,
        },
        **_start_and_liveness(startup_window),
    }


def startup_window(*, spec: ModelPipelineSpec, config: OperatorConfig) -> int:
    """The longest rollout deadline a model of this pipeline can get (planning.deadline):
    the start-up probe waits as long, so a slow start is never restarted before its rollout
    is judged, and one pod template (and serving hash) fits a model of either runtime."""
    chosen = spec.serving.progress_deadline_seconds
    return chosen or max(config.progress_deadline_onnx, config.progress_deadline_sklearn)


def _start_and_liveness(deadline: int) -> Manifest:
    """Slow to start is not crashing: liveness starts only once the server has answered, and
    the start-up probe waits out the longest rollout deadline before a restart."""
    live = {"path": LIVE_PATH, "port": "http"}
    return {
        "startupProbe": {
            "httpGet": live,
            "periodSeconds": STARTUP_PERIOD_SECONDS,
            "failureThreshold": -(-deadline // STARTUP_PERIOD_SECONDS),
        },
        "livenessProbe": {
            "httpGet": live,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
    }
