{{/* Names and labels. */}}
{{- define "aislot-responder.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "aislot-responder.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "aislot-responder.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aislot-responder.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "aislot-responder.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "aislot-responder.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: aislot-responder
{{- end -}}

{{- define "aislot-responder.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "aislot-responder.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "aislot-responder.secretName" -}}
{{- default (include "aislot-responder.fullname" .) .Values.auth.existingSecret -}}
{{- end -}}

{{- define "aislot-responder.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* "true" when the mitigation mode writes to the cluster (auto, approval). */}}
{{- define "aislot-responder.mitigationWrites" -}}
{{- if has .Values.config.mitigation.mode (list "auto" "approval") -}}true{{- end -}}
{{- end -}}

{{- define "aislot-responder.serviceUrl" -}}
{{- printf "http://%s.%s.svc:%d" (include "aislot-responder.fullname" .) .Release.Namespace (int .Values.service.port) -}}
{{- end -}}

{{- define "aislot-responder.dataDir" -}}
{{- dir .Values.config.store.sqlite_path -}}
{{- end -}}

{{/*
The service's config file: values.config with what the chart owns filled in (listen address
and port of the pod, the watched namespace, the public URL default).
*/}}
{{- define "aislot-responder.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $server := get $cfg "server" | default dict -}}
{{- $_ := set $server "host" "0.0.0.0" -}}
{{- $_ := set $server "port" (int .Values.containerPort) -}}
{{- if not (get $server "public_url") -}}
{{- $_ := set $server "public_url" (include "aislot-responder.serviceUrl" .) -}}
{{- end -}}
{{- $_ := set $cfg "server" $server -}}
{{- $kube := get $cfg "kube" | default dict -}}
{{- $_ := set $kube "namespace" .Values.watchedNamespace -}}
{{- $_ := set $cfg "kube" $kube -}}
{{- toYaml $cfg -}}
{{- end -}}

{{- define "aislot-responder.checks" -}}
{{- if and (eq .Values.config.store.backend "sqlite") (gt (int .Values.replicaCount) 1) -}}
{{- fail "replicaCount > 1 needs config.store.backend=postgres: SQLite has a single writer" -}}
{{- end -}}
{{- if and (eq .Values.config.store.backend "postgres") (not .Values.auth.existingSecret) -}}
{{- fail "config.store.backend=postgres needs auth.existingSecret holding the DSN (key auth.secretKeys.postgresDsn)" -}}
{{- end -}}
{{- end -}}
