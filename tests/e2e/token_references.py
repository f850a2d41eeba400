"""Stood in for the pre-1.24 token controller that the old provider/v2 stand-in waited for.

LEFT ONLY FOR tests/e2e/test_recovery.py (the recovery slice), which still imports it: nothing
else uses it. The provider of this tier is now v4.25.0, which (like 4.32) does not wait for a
ServiceAccount token on Kubernetes 1.24 and later, so a ServiceAccount's create is done as soon
as the API server answers, and `hold(namespace)` no longer keeps that create pending. Delete this
module once test_recovery.py no longer imports it.

A watch on ServiceAccounts adds a `secrets` reference to each new one in the given namespaces;
`hold(namespace)` makes it leave one namespace's ServiceAccounts alone until `release`.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from pathlib import Path
from urllib.parse import urlparse

import yaml

WATCH_SECONDS = 60  # the server ends a watch after this; a new one starts (resourceVersion kept)


class KubeApi:
    """Just enough of a Kubernetes client for this: one context of a kubeconfig with files."""

    def __init__(self, kubeconfig: Path, context: str):
        config = yaml.safe_load(kubeconfig.read_text())
        ctx = next(c["context"] for c in config["contexts"] if c["name"] == context)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == ctx["user"])
        server = urlparse(cluster["server"])
        self.host, self.port = server.hostname or "127.0.0.1", server.port or 443
        self.tls = ssl.create_default_context(cafile=cluster["certificate-authority"])
        self.tls.load_cert_chain(user["client-certificate"], user["client-key"])

    def connection(self, timeout: float | None = 30) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, context=self.tls, timeout=timeout)


class LegacyTokenReferences:
    def __init__(self, cluster, namespaces: tuple[str, ...]):
        self._api = KubeApi(cluster.kubeconfig, cluster.context)
        self._namespaces = namespaces
        self._held: set[str] = set()
        self._stop = threading.Event()
        self._watch: http.client.HTTPSConnection | None = None
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> LegacyTokenReferences:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.close()
        self._thread.join(timeout=10)

    def hold(self, namespace: str) -> None:
        """New ServiceAccounts of `namespace` get no token reference until `release`."""
        self._held.add(namespace)

    def release(self, namespace: str) -> None:
        """Ends `hold`: a token reference for each ServiceAccount of `namespace` still waiting.
        Nothing to do when the namespace is not held (any more)."""
        if namespace not in self._held:
            return
        self._held.discard(namespace)
        connection = self._api.connection()
        try:
            connection.request("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts")
            response = connection.getresponse()
            if response.status != 200:
                raise ValueError(f"listing ServiceAccounts answered {response.status}")
            accounts = json.loads(response.read())["items"]
            for account in accounts:
                if not account.get("secrets"):
                    self._reference_token(connection, namespace, account["metadata"]["name"])
        finally:
            connection.close()

    def _loop(self) -> None:
        version = ""
        patcher = self._api.connection()
        while not self._stop.is_set():
            try:
                version = self._watch_once(version, patcher)
            except (OSError, http.client.HTTPException, ValueError):
                if self._stop.wait(1.0):
                    return
                version = ""  # start over from a fresh list (e.g. "resourceVersion too old")
                patcher.close()
                patcher = self._api.connection()
        patcher.close()

    def _watch_once(self, version: str, patcher: http.client.HTTPSConnection) -> str:
        self._watch = self._api.connection(timeout=WATCH_SECONDS + 30)
        query = f"watch=true&timeoutSeconds={WATCH_SECONDS}"
        if version:
            query += f"&resourceVersion={version}"
        try:
            self._watch.request("GET", f"/api/v1/serviceaccounts?{query}")
            return self._follow(self._watch.getresponse(), version, patcher)
        finally:
            self._watch.close()

    def _follow(
        self, response: http.client.HTTPResponse, version: str, patcher: http.client.HTTPSConnection
    ) -> str:
        """Patch each new ServiceAccount of the namespaces; the last resourceVersion seen."""
        if response.status != 200:
            raise ValueError(f"watch answered {response.status}")
        for line in lines(response):
            event = json.loads(line)
            account = event["object"]
            if event["type"] == "ERROR":
                raise ValueError(account.get("message", "watch error"))
            meta = account["metadata"]
            version = meta["resourceVersion"]
            namespace = meta["namespace"]
            wanted = namespace in self._namespaces and namespace not in self._held
            wanted = wanted and not account.get("secrets")
            if event["type"] in ("ADDED", "MODIFIED") and wanted:
                self._reference_token(patcher, meta["namespace"], meta["name"])
        return version

    @staticmethod
    def _reference_token(patcher: http.client.HTTPSConnection, namespace: str, name: str) -> None:
        body = json.dumps({"secrets": [{"name": f"{name}-token"}]})
        patcher.request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}",
            body=body,
            headers={"Content-Type": "application/merge-patch+json"},
        )
        patcher.getresponse().read()  # 404 when it is already gone: nothing to do


def lines(response: http.client.HTTPResponse):
    """The watch's events, one JSON document per line, until the server ends the watch.
    http.client fails at the end of a chunked body read line by line (it has closed the socket
    when it reads the trailer: AttributeError on `fp`); that end is the normal end here."""
    while True:
        try:
            line = response.readline()
        except AttributeError:
            return
        if not line:
            return
        yield line
