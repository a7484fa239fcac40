{{/* Names, labels and the checks that values.schema.json cannot express. */}}

{{- define "modelpipe.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "modelpipe.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "modelpipe.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The operator's namespace: the release's, unless namespaceOverride names another. */}}
{{- define "modelpipe.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride -}}
{{- end -}}

{{- define "modelpipe.selectorLabels" -}}
app.kubernetes.io/name: {{ include "modelpipe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "modelpipe.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "modelpipe.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: modelpipe
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "modelpipe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "modelpipe.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false: name an existing ServiceAccount" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository@digest, else repository:tag, the tag defaulting to the chart's appVersion.
Call with (dict "image" .Values.X.image "context" $). */}}
{{- define "modelpipe.imageRef" -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (default .context.Chart.AppVersion .image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "modelpipe.image" -}}
{{- include "modelpipe.imageRef" (dict "image" .Values.image "context" .) -}}
{{- end -}}

{{- define "modelpipe.clusterwide" -}}
{{- if eq .Values.watch.scope "cluster" -}}true{{- end -}}
{{- end -}}

{{/*
Checks across values. They fail the render with a message that says what to
change, because a chart that installs and then does nothing is worse.
*/}}
{{- define "modelpipe.validate" -}}
{{- if and (eq .Values.watch.scope "namespaces") (empty .Values.watch.namespaces) -}}
{{- fail "watch.scope is \"namespaces\" but watch.namespaces is empty: list the namespaces to watch, e.g. --set 'watch.namespaces={team-a,team-b}', or use --set watch.scope=cluster to watch every namespace." -}}
{{- end -}}
{{- if and (eq .Values.watch.scope "cluster") (not (empty .Values.watch.namespaces)) -}}
{{- fail (printf "watch.namespaces is set (%s) but watch.scope is \"cluster\", which watches every namespace: set --set watch.scope=namespaces to watch only those, or empty watch.namespaces." (join ", " .Values.watch.namespaces)) -}}
{{- end -}}
{{- range $key := list "maxJobs" "maxJobsPerNamespace" -}}
{{- $limit := index ($.Values.trainingQueue | default dict) $key -}}
{{- if and (not (kindIs "invalid" $limit)) (lt (int64 $limit) 1) -}}
{{- fail (printf "trainingQueue.%s is %d: a limit below 1 would never start a training Job. Leave it empty (null) for no limit." $key (int64 $limit)) -}}
{{- end -}}
{{- end -}}
{{- if and (gt (int .Values.replicaCount) 1) (eq .Values.leader.strategy "standalone") -}}
{{- fail (printf "replicaCount is %d but leader.strategy is \"standalone\": standalone operators would handle every pipeline twice. Use replicaCount=1, or leader.strategy=lease for a standby." (int .Values.replicaCount)) -}}
{{- end -}}
{{- if and (gt (int .Values.replicaCount) 1) (eq .Values.leader.strategy "peering") -}}
{{- fail (printf "replicaCount is %d: kopf peering pauses every operator when peers share a priority, and modelpipe-operator does not give replicas distinct priorities yet, so extra replicas would stop all of them. Use replicaCount=1 (peering still keeps an old and a new pod apart during upgrades), or leader.strategy=lease for a standby." (int .Values.replicaCount)) -}}
{{- end -}}
{{- end -}}
