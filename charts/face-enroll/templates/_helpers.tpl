{{/* Name of the chart, or nameOverride. */}}
{{- define "face-enroll.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects. */}}
{{- define "face-enroll.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "face-enroll.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "face-enroll.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "face-enroll.selectorLabels" -}}
app.kubernetes.io/name: {{ include "face-enroll.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "face-enroll.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "face-enroll.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "face-enroll.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "face-enroll.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the AccessKey (and, by default, the broker URL). */}}
{{- define "face-enroll.credentialsSecret" -}}
{{- default (printf "%s-credentials" (include "face-enroll.fullname" .)) .Values.credentials.existingSecret }}
{{- end }}

{{- define "face-enroll.amqpSecret" -}}
{{- if .Values.amqp.existingSecret }}
{{- .Values.amqp.existingSecret }}
{{- else if eq .Values.credentials.mode "accessKey" }}
{{- include "face-enroll.credentialsSecret" . }}
{{- else }}
{{- printf "%s-credentials" (include "face-enroll.fullname" .) }}
{{- end }}
{{- end }}

{{/* Whether the chart makes its own Secret: for an AccessKey it was given, or for the broker URL. */}}
{{- define "face-enroll.makesSecret" -}}
{{- $accessKey := eq .Values.credentials.mode "accessKey" }}
{{- if or (and $accessKey (not .Values.credentials.existingSecret)) (eq (include "face-enroll.amqpSecret" .) (printf "%s-credentials" (include "face-enroll.fullname" .))) }}true{{- end }}
{{- end }}
