"""Which cluster a Kubernetes stack may change: the ICC's facts and the keys that name it.

The program checks the cluster the chosen kubeconfig context reaches before anything is created
(components/cluster.py); this module only holds the facts and the rules on the keys themselves.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from settings.base import KeyedError

# The ICC's API server, as the kubeconfig from its login portal names it (the ICC's own setup
# notes; the same host is the CNAME target of ICC ingress hosts). `iccApiServer` overrides it.
ICC_API_SERVER = "icc-k8s-api.informatik.haw-hamburg.de"
# Where an ICC user downloads that kubeconfig ("Download Config"), from the HAW network or VPN.
ICC_LOGIN_PORTAL = "https://icc-login.informatik.haw-hamburg.de/"
# The machine the README's Minikube walk-through makes (settings/targets.py sizes it the same).
MINIKUBE_START = "minikube start --cpus 4 --memory 12g --disk-size 40g --cni calico"

_HOST_PORT = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$")


def api_server_address(value: str) -> tuple[str, int | None]:
    """`host`, `host:port` or an https URL, as (lower-case host, port or None for any port)."""
    text = value.strip().lower()
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    host_port = parts.netloc
    if parts.scheme != "https" or not host_port or not _HOST_PORT.match(host_port):
        raise ValueError(value)
    return parts.hostname or "", parts.port


def check_cluster_keys(target: str, icc_api_server: str | None, other_local_cluster: bool) -> None:
    """Each cluster key belongs to one target; a value elsewhere would be silently ignored."""
    given: dict[str, Any] = {
        "iccApiServer": (icc_api_server, "icc"),
        "otherLocalCluster": (other_local_cluster or None, "minikube"),
    }
    for key, (value, owner) in given.items():
        if value is not None and target != owner:
            raise KeyedError(
                key,
                value,
                f"only the {owner} target uses it, this stack is {target}; "
                f"remove it with `pulumi config rm {key}`",
            )
    if icc_api_server is not None:
        try:
            api_server_address(icc_api_server)
        except ValueError:
            raise KeyedError(
                "iccApiServer",
                icc_api_server,
                f"must be the ICC API server's host, host:port or https URL, e.g. "
                f"`pulumi config set iccApiServer {ICC_API_SERVER}`",
            ) from None
