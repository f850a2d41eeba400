"""Just enough of a Kubernetes API client for the pre-flight and the rollout watch: GET requests
with one kubeconfig context's server, CA and credentials.

Standard library only (urllib, ssl: already loaded with pulumi), so the check costs one request
and no import time. Credentials: a bearer token (`token`, `tokenFile`) or a client certificate
(files or `-data`), as minikube, kind, k3d, Docker Desktop and the ICC's kubeconfig use them.
Exec plugins and auth providers are not run (a plugin may prompt or open a browser on every
preview): such a context is `authenticated = False`, and what needs credentials says so.
HTTPS_PROXY/NO_PROXY apply as for kubectl (urllib reads the same variables).
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from components.kubeconfig import Context


class Unreachable(Exception):
    """The API server did not answer; the message says how (refused, timed out, TLS, ...)."""


def _file(context: Context, value: str) -> str:
    path = Path(value).expanduser()
    if not path.is_absolute() and context.base_dir is not None:
        path = context.base_dir / path
    return str(path)


def _tls(context: Context) -> ssl.SSLContext:
    cluster, user = context.cluster, context.user
    # Verifies the server's certificate and host name; the system's CAs only when the kubeconfig
    # names none (loading them costs ~0.1 s, on every preview).
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cluster.get("insecure-skip-tls-verify"):
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    elif cluster.get("certificate-authority-data"):
        pem = base64.b64decode(str(cluster["certificate-authority-data"])).decode()
        tls.load_verify_locations(cadata=pem)
    elif cluster.get("certificate-authority"):
        tls.load_verify_locations(cafile=_file(context, str(cluster["certificate-authority"])))
    else:
        tls.load_default_certs()
    if user.get("client-certificate-data") and user.get("client-key-data"):
        # ssl loads a key pair only from files: a private folder, removed right after.
        with tempfile.TemporaryDirectory(prefix="icc-ollama-kube-") as scratch:
            cert, key = Path(scratch) / "client.crt", Path(scratch) / "client.key"
            cert.write_bytes(base64.b64decode(str(user["client-certificate-data"])))
            key.write_bytes(base64.b64decode(str(user["client-key-data"])))
            tls.load_cert_chain(str(cert), str(key))
    elif user.get("client-certificate") and user.get("client-key"):
        tls.load_cert_chain(
            _file(context, str(user["client-certificate"])),
            _file(context, str(user["client-key"])),
        )
    return tls


def _token(context: Context) -> str | None:
    user = context.user
    if user.get("token"):
        return str(user["token"])
    if user.get("tokenFile"):
        return Path(_file(context, str(user["tokenFile"]))).read_text().strip()
    return None


def _reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.URLError):
        error = error.reason if isinstance(error.reason, BaseException) else error
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS: {error.verify_message or error.reason}"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "no answer (timed out)"
    if isinstance(error, socket.gaierror):
        return "host name not found"
    return str(getattr(error, "strerror", None) or error)


class KubeApi:
    """GET requests against one context's API server."""

    def __init__(self, context: Context):
        self.server = context.server.rstrip("/")
        self._tls: ssl.SSLContext | None = None
        self._token: str | None = None
        self.authenticated = False
        self.credentials_problem: str | None = None
        try:
            self._tls = _tls(context)
            self._token = _token(context)
        except (OSError, ValueError, ssl.SSLError) as error:
            self.credentials_problem = f"cannot load the context's certificates: {_reason(error)}"
        user = context.user
        self.authenticated = self.credentials_problem is None and bool(
            self._token or user.get("client-certificate-data") or user.get("client-certificate")
        )
        if "exec" in user or "auth-provider" in user:
            kind = "an exec plugin" if "exec" in user else "an auth provider"
            self.credentials_problem = f"its credentials come from {kind}, which is not run here"

    def get(self, path: str, timeout: float) -> tuple[int, Any]:
        """Status and JSON body (or text) of `GET <server><path>`; Unreachable if no answer."""
        request = urllib.request.Request(self.server + path, headers={"Accept": "application/json"})
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        if self._tls is None:
            raise Unreachable(self.credentials_problem or "no TLS settings")
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=self._tls))
        try:
            with opener.open(request, timeout=timeout) as response:
                return response.status, _body(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _body(error.read())
        except (OSError, ssl.SSLError) as error:  # URLError, refused, timeouts, TLS
            raise Unreachable(_reason(error)) from None


def _body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
