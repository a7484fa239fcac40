{{/*
The operator's RBAC rules, one place for both modes: a ClusterRole when it
watches the whole cluster, the same rules in a Role per watched namespace
otherwise. Every rule names the code that needs it, and
tests/packaging/test_rbac_minimality.py removes each rule in turn and shows
the named behaviour failing with 403.
*/}}

{{- define "modelpipe.rbac.namespacedRules" -}}
# kopf watches ModelPipelines (list+watch) and patches them for its
# finalizer and diff-base annotation (patch): modelpipe/handlers.py.
- apiGroups: [modelpipe.io]
  resources: [modelpipelines]
  verbs: [list, watch, patch]
# The executor writes the rebuilt status (modelpipe/k8s/executor.py).
- apiGroups: [modelpipe.io]
  resources: [modelpipelines/status]
  verbs: [patch]
# Training Jobs: the gatherer lists them by the pipeline label, the executor
# creates one per input hash and deletes superseded ones (modelpipe/k8s/).
- apiGroups: [batch]
  resources: [jobs]
  verbs: [list, watch, create, delete]
# The trainer's result is the termination message in its pod's status;
# the gatherer lists the Job's pods to read it (modelpipe/k8s/observe.py).
- apiGroups: [""]
  resources: [pods]
  verbs: [list]
# Serving: the gatherer reads the Deployment's rollout state, the executor
# creates an owned one or patches a user's one to promote (modelpipe/k8s/).
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch]
# The executor creates the Service in front of an owned Deployment.
- apiGroups: [""]
  resources: [services]
  verbs: [get, create]
# The gatherer checks that spec.artifacts.pvc exists (reason PVCNotFound).
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get]
# kopf and the executor post Events on the ModelPipeline (JobCreated, GateFailed, Promoted, ...).
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- if eq .Values.leader.strategy "peering" }}
{{- if not (include "modelpipe.clusterwide" .) }}
# kopf peering in namespaced mode: keep-alives in each watched namespace's
# KopfPeering (kopf/_core/engines/peering.py: watch, then patch status).
- apiGroups: [kopf.dev]
  resources: [kopfpeerings]
  verbs: [list, watch, patch]
{{- end }}
{{- end }}
{{- end -}}

{{- define "modelpipe.rbac.clusterRules" -}}
{{- if eq .Values.leader.strategy "peering" }}
# kopf peering cluster-wide: keep-alives in the ClusterKopfPeering
# (kopf/_core/engines/peering.py: watch, then patch status).
- apiGroups: [kopf.dev]
  resources: [clusterkopfpeerings]
  verbs: [list, watch, patch]
{{- end }}
{{- end -}}
