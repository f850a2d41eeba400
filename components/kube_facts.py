"""Facts about this project's Kubernetes objects that scripts/recover.py needs as well as the
program and the policy pack. Stdlib only: recover.py imports it without pulumi or pydantic.
"""

from __future__ import annotations

PART_OF = "icc-ollama"  # the app.kubernetes.io/part-of label of every object of ours
MANAGED_BY = "pulumi"  # its app.kubernetes.io/managed-by label
# Both, as an object we made ourselves (not rendered from a chart) carries them.
OWNED_LABELS = {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": MANAGED_BY}

# Kinds the API server keeps outside any namespace (kubectl api-resources --namespaced=false).
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PriorityClass",
        "IngressClass",
        "RuntimeClass",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "APIService",
        "FlowSchema",
        "PriorityLevelConfiguration",
        "CertificateSigningRequest",
        "ComponentStatus",
        "PodSecurityPolicy",
        "VolumeAttributesClass",
        "IPAddress",
        "ServiceCIDR",
        "DeviceClass",
    }
)
