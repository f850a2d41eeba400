"""Facts about this project's Kubernetes objects that scripts/recover.py needs as well as the
program and the policy pack. Stdlib only: recover.py imports it without pulumi or pydantic.
"""

from __future__ import annotations

PART_OF = "icc-ollama"  # the app.kubernetes.io/part-of label of every object of ours
MANAGED_BY = "pulumi"  # its app.kubernetes.io/managed-by label

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
