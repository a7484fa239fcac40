"""The chart's CRD: the generated YAML wrapped in Helm template conditions.

Helm installs a chart's ``crds/`` directory once and never upgrades it, and cannot
install it conditionally. Like cert-manager and argo-rollouts, the chart therefore
renders the ModelPipeline CRD from ``templates/crds/``: ``helm upgrade`` updates it,
``crds.enabled=false`` leaves it to someone else, and ``crds.keep`` (the
``helm.sh/resource-policy: keep`` annotation) keeps it, and every ModelPipeline
with it, when the release is uninstalled. (kopf's peering CRDs stay in ``crds/``:
charts/modelpipe/crds/kopf.dev_peerings.yaml says why.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

PIPELINE_CONDITION = ".Values.crds.enabled"

_METADATA = """\
  labels:
    {{- include "modelpipe.labels" . | nindent 4 }}
  {{- if .Values.crds.keep }}
  annotations:
    # helm uninstall, and Argo CD's prune or app deletion, leave the CRD, and with
    # it every ModelPipeline.
    helm.sh/resource-policy: keep
    argocd.argoproj.io/sync-options: Prune=false,Delete=false
  {{- end }}
"""


def chart_template(
    documents: Iterable[dict[str, Any]],
    *,
    condition: str,
    dump: Callable[[dict[str, Any]], str],
    header: str,
) -> str:
    """CRD documents as one chart template rendered only when ``condition`` holds."""
    bodies = []
    for document in documents:
        body = dump(document)
        if "{{" in body:
            raise ValueError(f"{document['metadata']['name']} contains '{{{{', which Helm reads")
        name = f"metadata:\n  name: {document['metadata']['name']}\n"
        if body.count(name) != 1 or len(document["metadata"]) != 1:
            raise ValueError(f"{document['metadata']['name']}: metadata must hold only the name")
        bodies.append(body.replace(name, name + _METADATA))
    return f"{header}{{{{- if {condition} }}}}\n" + "---\n".join(bodies) + "{{- end }}\n"
