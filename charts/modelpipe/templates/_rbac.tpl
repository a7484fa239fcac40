{{/*
The operator's RBAC rules, one place for both modes: a ClusterRole when it
watches the whole cluster, the same rules in a Role per watched namespace
otherwise. Every rule names the code that needs it (the calls are listed in
operator/modelpipe/k8s/calls.py), and tests/packaging/test_rbac_minimality.py
removes each verb in turn and shows the named behaviour failing with 403.

Left out on purpose: customresourcedefinitions and namespaces (kopf only
watches them to notice CRDs and namespaces appearing later, and falls back
when refused), events.k8s.io (kopf posts core/v1 Events). The price today: a
namespaced operator retries the refused namespace listing for about 54 s at
start-up before it watches anything. Turning kopf's scanning off in the
operator (settings.scanning.disabled) would remove both the wait and the calls.
*/}}

{{- define "modelpipe.rbac.namespacedRules" -}}
# get: KubeApi.get_pipeline, each reconcile reads its pipeline afresh (k8s/gather.py).
# list, watch: kopf's watch behind the ModelPipeline handlers (handlers.py).
- apiGroups: [modelpipe.io]
  resources: [modelpipelines]
  verbs: [get, list, watch]
# patch: KubeApi.patch_pipeline_status (k8s/execute.py), and kopf's diff base,
# kept in status.kopf by StatusDiffBaseStorage (handlers.configure).
- apiGroups: [modelpipe.io]
  resources: [modelpipelines/status]
  verbs: [patch]
# list, watch: kopf's label-selected watch behind job_event (handlers.py);
# list: KubeApi.list_jobs; create: KubeApi.create_job; delete: KubeApi.delete_job
# (a superseded run's Job) (k8s/calls.py, used by k8s/gather.py and k8s/execute.py);
# the same calls start, read and clean up a pvc:// dataset's hash Jobs (k8s/datahash.py).
- apiGroups: [batch]
  resources: [jobs]
  verbs: [list, watch, create, delete]
# list: KubeApi.list_job_pods reads the trainer's and the hash Jobs' termination
# messages (k8s/gather.py, k8s/datahash.py); the serving pods' IPs and restarts
# (k8s/rollout.py, and k8s/analysis.py during a bake window).
- apiGroups: [""]
  resources: [pods]
  verbs: [list]
# create: KubeApi.create_config_map, a training run's config as a file, made
# before its Job (a large spec no longer overflows an environment variable);
# patch: KubeApi.patch_config_map makes the new Job its owner, so it is deleted
# with the Job; KubeApi.refresh_config_map updates one an interrupted pass left,
# only if the pipeline owns it (k8s/execute.py).
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create, patch]
# list, watch: kopf's label-selected watch behind deployment_event (handlers.py);
# get: KubeApi.get_deployment (rollout state); create: KubeApi.create_deployment
# (serving.template, its canary); patch: KubeApi.patch_deployment (promotion,
# rollback, the canary split by replicas).
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch]
# get: KubeApi.get_service; create: KubeApi.create_service (serving.template).
- apiGroups: [""]
  resources: [services]
  verbs: [get, create]
# get: KubeApi.get_autoscaler, the serving Deployment's HPA (serving.template, k8s/gather.py);
# create, patch, delete: KubeApi.create_autoscaler, patch_autoscaler, delete_autoscaler
# keep it to spec.serving.autoscaling and remove it when dropped (planning/autoscaling.py);
# never list or watch, and only the one named after and owned by the pipeline.
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, create, patch, delete]
# get: KubeApi.get_service_account, the ServiceAccounts a spec names (training,
# serving.template): must exist, and must have opted in with the annotation
# modelpipe.io/pipelines, before any Job or Deployment runs the author's image as
# one (ServiceAccountRefused; k8s/gather.py, planning/accounts.py).
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [get]
# get: KubeApi.get_pvc, the PVCNotFound condition and a pvc:// dataset's claim
# (SourcesReady=False NotFound) (k8s/gather.py).
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get]
{{- if .Values.kueue.enabled }}
# get: KubeApi.get_local_queue, the Kueue LocalQueue a spec.training.queueName names,
# in the pipeline's own namespace: QueueNotFound instead of a Job no queue admits
# (k8s/gather.py, planning/kueue.py). Kueue itself unsuspends the Jobs; never list or watch.
# kueue.enabled=false drops it (a spec naming a queue is then refused, InvalidSpec).
- apiGroups: [kueue.x-k8s.io]
  resources: [localqueues]
  verbs: [get]
{{- end }}
# create: KubeApi.create_event (JobCreated, GateFailed, Promoted, ...) and
# kopf's own warning events (handlers.configure: settings.posting.level).
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- if .Values.rbac.readSecrets }}
# get: KubeApi.get_secret reads a followed source's credentialsSecret for the
# pollers (k8s/gather.py); never list or watch. rbac.readSecrets=false drops it.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- end }}
{{- if eq .Values.leader.strategy "peering" }}
{{- if not (include "modelpipe.clusterwide" .) }}
# list, watch, patch: kopf peering in namespaced mode, keep-alives in each
# watched namespace's KopfPeering (kopf/_core/engines/peering.py).
- apiGroups: [kopf.dev]
  resources: [kopfpeerings]
  verbs: [list, watch, patch]
{{- end }}
{{- end }}
{{- end -}}

{{- define "modelpipe.rbac.clusterRules" -}}
{{- if eq .Values.leader.strategy "peering" }}
# list, watch, patch: kopf peering cluster-wide, keep-alives in the
# ClusterKopfPeering (kopf/_core/engines/peering.py).
- apiGroups: [kopf.dev]
  resources: [clusterkopfpeerings]
  verbs: [list, watch, patch]
{{- end }}
{{- end -}}
