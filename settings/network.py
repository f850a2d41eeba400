"""The `networkPolicies` section."""

from __future__ import annotations

from settings.base import DnsLabel, Model


class NetworkPolicies(Model):
    # Default-deny ingress for this release's pods; Ollama only from Open WebUI and the scraper.
    enabled: bool = True
    ingress_controller_namespace: DnsLabel = "ingress-nginx"
