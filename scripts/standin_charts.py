"""Stand-in Prometheus and Grafana charts for the offline real-engine tier and `make bench`.

The real charts (prometheus 29.27.0 with its kube-state-metrics 8.4.0 subchart, grafana 12.11.1;
settings/monitoring.py) come from Helm repositories this machine cannot reach. `write_charts`
writes small charts of the same names and versions into a folder; the stacks point
`monitoring.<chart>.chart` at them (a local path, as the settings allow for offline use) and the
real provider renders them through its Helm v4 `Chart`, as it renders the real ones.

What they keep of the real charts, read from their templates at the commits named in
tests/chart_keys.py: the values keys the program sets (tests/chart_keys.py lists them), and for
those values the same object kinds and names (ServiceAccount, ConfigMap, Deployment, Service,
a PersistentVolumeClaim with `server.persistentVolume.enabled`, ClusterRoles and their bindings
with `rbac.create`, kube-state-metrics as a subchart behind `kube-state-metrics.enabled`), the
same pod and selector labels (the program's NetworkPolicies and tests select on them), the same
container ports and Service ports, and each Service's annotations from the same values key
(`server.service.annotations`, `service.annotations`). What they leave out: every feature the
program switches off or never sets, the real Prometheus configuration and Grafana provisioning
(only their keys are written), probes. They prove how the program drives a chart through the
real provider, not what the real charts render: the keys are checked against the real charts'
documentation by tests/test_monitoring.py.
"""

from __future__ import annotations

from pathlib import Path

# Chart name -> {path inside the chart: text}. Helm templates; `{{` belongs to Helm.
PROMETHEUS_VERSION = "29.27.0"
KSM_VERSION = "8.4.0"
GRAFANA_VERSION = "12.11.1"

PROMETHEUS_HELPERS = """\
{{- define "prometheus.server.fullname" -}}
{{- default (printf "%s-server" .Release.Name) .Values.server.fullnameOverride -}}
{{- end -}}
{{- define "prometheus.server.matchLabels" -}}
app.kubernetes.io/component: server
app.kubernetes.io/name: prometheus
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "prometheus.server.labels" -}}
{{ include "prometheus.server.matchLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion }}
helm.sh/chart: prometheus-{{ .Chart.Version }}
app.kubernetes.io/part-of: prometheus
{{- end -}}
{{- define "prometheus.clusterRoleName" -}}
{{- default (include "prometheus.server.fullname" .) .Values.server.clusterRoleNameOverride -}}
{{- end -}}
"""

PROMETHEUS_VALUES = """\
rbac:
  create: true
server:
  fullnameOverride: ""
  clusterRoleNameOverride: ""
  automountServiceAccountToken: ~  # the real chart documents it in a comment, no default
  retention: 15d
  retentionSize: ""
  enableServiceLinks: true
  resources: {}
  securityContext: {}
  containerSecurityContext: {}
  persistentVolume:
    enabled: true
    size: 8Gi
    storageClass: ""
  emptyDir:
    sizeLimit: ""
  service:
    annotations: {}
    servicePort: 80
configmapReload:
  prometheus:
    resources: {}
    containerSecurityContext: {}
scrapeConfigs:
  prometheus: {}
  kubernetes-api-servers: {}
  kubernetes-nodes: {}
  kubernetes-nodes-cadvisor: {}
  kubernetes-service-endpoints: {}
  kubernetes-service-endpoints-slow: {}
  prometheus-pushgateway: {}
  kubernetes-services: {}
  kubernetes-pods: {}
  kubernetes-pods-slow: {}
alertmanager:
  enabled: true
prometheus-pushgateway:
  enabled: true
prometheus-node-exporter:
  enabled: true
kube-state-metrics:
  enabled: true
"""

PROMETHEUS_OBJECTS = """\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "prometheus.server.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "prometheus.server.labels" . | nindent 4 }}
{{- if kindIs "bool" .Values.server.automountServiceAccountToken }}
automountServiceAccountToken: {{ .Values.server.automountServiceAccountToken }}
{{- end }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "prometheus.server.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "prometheus.server.labels" . | nindent 4 }}
data:
  prometheus.yml: |
    scrape_configs:
    {{- range $job, $config := .Values.scrapeConfigs }}
    {{- if ne (toString (dig "enabled" true $config)) "false" }}
      - job_name: {{ $job }}
    {{- end }}
    {{- end }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "prometheus.server.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "prometheus.server.labels" . | nindent 4 }}
spec:
  replicas: 1
  selector:
    matchLabels: {{- include "prometheus.server.matchLabels" . | nindent 6 }}
  template:
    metadata:
      labels: {{- include "prometheus.server.labels" . | nindent 8 }}
    spec:
      enableServiceLinks: {{ .Values.server.enableServiceLinks }}
      serviceAccountName: {{ include "prometheus.server.fullname" . }}
      {{- if kindIs "bool" .Values.server.automountServiceAccountToken }}
      automountServiceAccountToken: {{ .Values.server.automountServiceAccountToken }}
      {{- end }}
      securityContext: {{- toYaml .Values.server.securityContext | nindent 8 }}
      containers:
        - name: prometheus-server-configmap-reload
          image: quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1
          args: ["--watched-dir=/etc/config", "--reload-url=http://127.0.0.1:9090/-/reload"]
          resources: {{- toYaml .Values.configmapReload.prometheus.resources | nindent 12 }}
          securityContext:
            {{- toYaml .Values.configmapReload.prometheus.containerSecurityContext | nindent 12 }}
          volumeMounts: [{name: config-volume, mountPath: /etc/config, readOnly: true}]
        - name: prometheus-server
          image: quay.io/prometheus/prometheus:{{ .Chart.AppVersion }}
          args:
            - --storage.tsdb.retention.time={{ .Values.server.retention }}
            {{- with .Values.server.retentionSize }}
            - --storage.tsdb.retention.size={{ . }}
            {{- end }}
            - --config.file=/etc/config/prometheus.yml
            - --storage.tsdb.path=/data
          ports: [{containerPort: 9090}]
          resources: {{- toYaml .Values.server.resources | nindent 12 }}
          securityContext: {{- toYaml .Values.server.containerSecurityContext | nindent 12 }}
          volumeMounts:
            - {name: config-volume, mountPath: /etc/config}
            - {name: storage-volume, mountPath: /data}
      volumes:
        - name: config-volume
          configMap: {name: {{ include "prometheus.server.fullname" . }}}
        - name: storage-volume
          {{- if .Values.server.persistentVolume.enabled }}
          persistentVolumeClaim: {claimName: {{ include "prometheus.server.fullname" . }}}
          {{- else if .Values.server.emptyDir.sizeLimit }}
          emptyDir: {sizeLimit: {{ .Values.server.emptyDir.sizeLimit | quote }}}
          {{- else }}
          emptyDir: {}
          {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "prometheus.server.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "prometheus.server.labels" . | nindent 4 }}
  {{- with .Values.server.service.annotations }}
  annotations: {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: ClusterIP
  ports:
    - {name: http, port: {{ .Values.server.service.servicePort }}, protocol: TCP, targetPort: 9090}
  selector: {{- include "prometheus.server.matchLabels" . | nindent 4 }}
{{- if .Values.server.persistentVolume.enabled }}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ include "prometheus.server.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "prometheus.server.labels" . | nindent 4 }}
spec:
  accessModes: [ReadWriteOnce]
  {{- with .Values.server.persistentVolume.storageClass }}
  storageClassName: {{ . }}
  {{- end }}
  resources: {requests: {storage: {{ .Values.server.persistentVolume.size | quote }}}}
{{- end }}
{{- if .Values.rbac.create }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ include "prometheus.clusterRoleName" . }}
  labels: {{- include "prometheus.server.labels" . | nindent 4 }}
rules:
  - apiGroups: [""]
    resources: [nodes, nodes/metrics, services, endpoints, pods]
    verbs: [get, list, watch]
  - nonResourceURLs: [/metrics]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ include "prometheus.clusterRoleName" . }}
  labels: {{- include "prometheus.server.labels" . | nindent 4 }}
subjects:
  - kind: ServiceAccount
    name: {{ include "prometheus.server.fullname" . }}
    namespace: {{ .Release.Namespace }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ include "prometheus.clusterRoleName" . }}
{{- end }}
"""

KSM_HELPERS = """\
{{- define "ksm.selector" -}}
app.kubernetes.io/name: kube-state-metrics
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
"""

KSM_VALUES = """\
fullnameOverride: ""
prometheusScrape: true
resources: {}
service:
  port: 8080
  annotations: {}
"""

KSM_OBJECTS = """\
{{- $name := default (printf "%s-kube-state-metrics" .Release.Name) .Values.fullnameOverride }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "ksm.selector" . | nindent 4 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ $name }}
  labels: {{- include "ksm.selector" . | nindent 4 }}
rules:
  - apiGroups: ["", apps]
    resources: [pods, nodes, services, deployments, statefulsets]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ $name }}
  labels: {{- include "ksm.selector" . | nindent 4 }}
subjects: [{kind: ServiceAccount, name: {{ $name }}, namespace: {{ .Release.Namespace }}}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {{ $name }}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "ksm.selector" . | nindent 4 }}
spec:
  replicas: 1
  selector:
    matchLabels: {{- include "ksm.selector" . | nindent 6 }}
  template:
    metadata:
      labels: {{- include "ksm.selector" . | nindent 8 }}
    spec:
      serviceAccountName: {{ $name }}
      containers:
        - name: kube-state-metrics
          image: registry.k8s.io/kube-state-metrics/kube-state-metrics:v{{ .Chart.AppVersion }}
          ports: [{containerPort: {{ .Values.service.port }}, name: http}]
          resources: {{- toYaml .Values.resources | nindent 12 }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "ksm.selector" . | nindent 4 }}
  annotations:
    {{- if .Values.prometheusScrape }}
    prometheus.io/scrape: {{ .Values.prometheusScrape | quote }}
    {{- end }}
    {{- with .Values.service.annotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  type: ClusterIP
  ports: [{name: http, protocol: TCP, port: {{ .Values.service.port }}, targetPort: http}]
  selector: {{- include "ksm.selector" . | nindent 4 }}
"""

GRAFANA_HELPERS = """\
{{- define "grafana.selectorLabels" -}}
app.kubernetes.io/name: grafana
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
"""

GRAFANA_VALUES = """\
rbac:
  create: true
serviceAccount:
  create: true
  automountServiceAccountToken: false
automountServiceAccountToken: true
testFramework:
  enabled: true
podLabels: {}
enableServiceLinks: true
admin:
  existingSecret: ""
  userKey: admin-user
  passwordKey: admin-password
persistence:
  enabled: false
resources: {}
securityContext: {}
containerSecurityContext: {}
extraEmptyDirMounts: []
grafana.ini: {}
datasources: {}
dashboardProviders: {}
dashboardsConfigMaps: {}
service:
  port: 80
  annotations: {}
"""

GRAFANA_OBJECTS = """\
{{- $admin := default .Release.Name .Values.admin.existingSecret }}
{{- if .Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "grafana.selectorLabels" . | nindent 4 }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
{{- end }}
{{- if not .Values.admin.existingSecret }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "grafana.selectorLabels" . | nindent 4 }}
stringData: {admin-user: admin, admin-password: stand-in}
{{- end }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "grafana.selectorLabels" . | nindent 4 }}
data:
  grafana.ini: |
    {{- range $section, $keys := index .Values "grafana.ini" }}
    [{{ $section }}]
    {{- range $key, $value := $keys }}
    {{ $key }} = {{ $value }}
    {{- end }}
    {{- end }}
  {{- range $file, $content := merge (dict) .Values.datasources .Values.dashboardProviders }}
  {{ $file }}: |
    {{- toYaml $content | nindent 4 }}
  {{- end }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "grafana.selectorLabels" . | nindent 4 }}
spec:
  replicas: 1
  selector:
    matchLabels: {{- include "grafana.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "grafana.selectorLabels" . | nindent 8 }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ .Release.Name }}
      automountServiceAccountToken: {{ .Values.automountServiceAccountToken }}
      enableServiceLinks: {{ .Values.enableServiceLinks }}
      securityContext: {{- toYaml .Values.securityContext | nindent 8 }}
      containers:
        - name: grafana
          image: docker.io/grafana/grafana:{{ .Chart.AppVersion }}
          ports: [{name: grafana, containerPort: 3000, protocol: TCP}]
          env:
            - name: GF_SECURITY_ADMIN_USER
              valueFrom: {secretKeyRef: {name: {{ $admin }}, key: {{ .Values.admin.userKey }}}}
            - name: GF_SECURITY_ADMIN_PASSWORD
              valueFrom: {secretKeyRef: {name: {{ $admin }}, key: {{ .Values.admin.passwordKey }}}}
          resources: {{- toYaml .Values.resources | nindent 12 }}
          securityContext: {{- toYaml .Values.containerSecurityContext | nindent 12 }}
          volumeMounts:
            - {name: config, mountPath: /etc/grafana/grafana.ini, subPath: grafana.ini}
            - {name: storage, mountPath: /var/lib/grafana}
            {{- range $provider, $configMap := .Values.dashboardsConfigMaps }}
            - name: dashboards-{{ $provider }}
              mountPath: /var/lib/grafana/dashboards/{{ $provider }}
            {{- end }}
            {{- range .Values.extraEmptyDirMounts }}
            - {name: {{ .name }}, mountPath: {{ .mountPath }}}
            {{- end }}
      volumes:
        - {name: config, configMap: {name: {{ .Release.Name }}}}
        - {name: storage, emptyDir: {}}
        {{- range $provider, $configMap := .Values.dashboardsConfigMaps }}
        - {name: dashboards-{{ $provider }}, configMap: {name: {{ $configMap }}}}
        {{- end }}
        {{- range .Values.extraEmptyDirMounts }}
        - {name: {{ .name }}, emptyDir: {}}
        {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
  labels: {{- include "grafana.selectorLabels" . | nindent 4 }}
  {{- with .Values.service.annotations }}
  annotations: {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: ClusterIP
  ports: [{name: service, port: {{ .Values.service.port }}, protocol: TCP, targetPort: grafana}]
  selector: {{- include "grafana.selectorLabels" . | nindent 4 }}
"""

CHARTS: dict[str, dict[str, str]] = {
    "prometheus": {
        "Chart.yaml": f"""\
apiVersion: v2
name: prometheus
description: Stand-in for prometheus-community/prometheus (scripts/standin_charts.py)
version: {PROMETHEUS_VERSION}
appVersion: v3.14.0
kubeVersion: ">=1.19.0-0"
dependencies:
  - name: kube-state-metrics
    version: "{KSM_VERSION}"
    condition: kube-state-metrics.enabled
""",
        "values.yaml": PROMETHEUS_VALUES,
        "templates/_helpers.tpl": PROMETHEUS_HELPERS,
        "templates/server.yaml": PROMETHEUS_OBJECTS,
        "charts/kube-state-metrics/Chart.yaml": f"""\
apiVersion: v2
name: kube-state-metrics
description: Stand-in for prometheus-community/kube-state-metrics (scripts/standin_charts.py)
version: {KSM_VERSION}
appVersion: 2.20.0
""",
        "charts/kube-state-metrics/values.yaml": KSM_VALUES,
        "charts/kube-state-metrics/templates/_helpers.tpl": KSM_HELPERS,
        "charts/kube-state-metrics/templates/objects.yaml": KSM_OBJECTS,
    },
    "grafana": {
        "Chart.yaml": f"""\
apiVersion: v2
name: grafana
description: Stand-in for grafana-community/grafana (scripts/standin_charts.py)
version: {GRAFANA_VERSION}
appVersion: 13.2.0
kubeVersion: "^1.25.0-0"
""",
        "values.yaml": GRAFANA_VALUES,
        "templates/_helpers.tpl": GRAFANA_HELPERS,
        "templates/objects.yaml": GRAFANA_OBJECTS,
    },
}


def write_charts(folder: Path) -> dict[str, Path]:
    """Writes both charts under `folder`; their paths by chart name."""
    paths = {}
    for chart, files in CHARTS.items():
        for name, text in files.items():
            path = folder / chart / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        paths[chart] = folder / chart
    return paths


def monitoring_settings(charts: dict[str, Path]) -> dict:
    """The `monitoring` settings that deploy from the charts `write_charts` made."""
    return {
        "enabled": True,
        **{chart: {"chart": str(path)} for chart, path in charts.items()},
    }
