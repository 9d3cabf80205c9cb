{{/*
The objects' name: fullnameOverride, else the release's name when it contains "meshlock",
else <release>-meshlock. At most 58 characters, so that <name>-view and -enforce fit 63.
*/}}
{{- define "meshlock.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 58 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 58 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 58 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The pods' labels the Deployment and the Service select by: stable across upgrades. */}}
{{- define "meshlock.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Every object's labels. app.kubernetes.io/name=meshlock as in deploy/. */}}
{{- define "meshlock.labels" -}}
{{ include "meshlock.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* The image: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "meshlock.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) -}}
{{- end -}}

{{/* The port /metrics is scraped on: metrics.port, else the dashboard's 8080. */}}
{{- define "meshlock.metricsPort" -}}
{{- if .Values.metrics.port }}{{ .Values.metrics.port | int }}{{ else }}8080{{ end -}}
{{- end -}}

{{/* The Service's and the container's port name /metrics is on. */}}
{{- define "meshlock.metricsPortName" -}}
{{- if .Values.metrics.port }}metrics{{ else }}http{{ end -}}
{{- end -}}
