#!/usr/bin/env python3
"""Prometheus exporter for Ollama, which has no /metrics endpoint of its own.

Standard library only, so any image with python3 runs it (the stack uses a pinned python slim
image and ships this file in a ConfigMap). Each scrape of GET /metrics polls every Ollama replica
once, in parallel, and answers in the Prometheus text exposition format (version 0.0.4):

  GET <replica>/api/tags   models on the replica's disk
  GET <replica>/api/ps     models loaded in memory, their size and the part in GPU memory

Replicas are given as `--target URL` (fixed) and/or found with `--discover HOST:PORT`: every
address of HOST (a headless Service lists one per Ready pod) is a replica; its name comes from
reverse DNS (`ollama-0.ollama-headless...` -> `ollama-0`), else the address. So replicas added by
an autoscaler appear without a restart. GET /healthz answers without polling anything.

Metric names follow the Ollama metrics proposal (ollama/ollama PR #16998) where it has one
(`ollama_models_loaded`), so dashboards keep working should Ollama grow its own endpoint.
Request rates and latencies are not visible to a poller; they are not exported.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# name -> (type, help); the order of the exposition.
METRICS = {
    "ollama_up": ("gauge", "1 if the replica answered /api/tags and /api/ps, else 0."),
    "ollama_models_present": ("gauge", "Models on the replica's disk (/api/tags)."),
    "ollama_model_size_bytes": ("gauge", "Size on disk of each present model."),
    "ollama_models_loaded": ("gauge", "Models loaded in memory (/api/ps)."),
    "ollama_loaded_model_size_bytes": ("gauge", "Memory used by each loaded model."),
    "ollama_loaded_model_vram_bytes": ("gauge", "GPU memory used by each loaded model."),
    "ollama_loaded_model_expiry_timestamp_seconds": (
        "gauge",
        "When a loaded model will be unloaded; moves forward with every request.",
    ),
    "ollama_replica_poll_duration_seconds": ("gauge", "Time to poll one replica."),
    "ollama_exporter_replicas": ("gauge", "Replicas polled in this scrape."),
    "ollama_exporter_poll_duration_seconds": ("gauge", "Time to poll every replica."),
    "ollama_exporter_scrape_errors_total": ("counter", "Failed polls, per replica."),
    "ollama_exporter_discovery_errors_total": ("counter", "Failed DNS lookups of --discover."),
}


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def sample(name: str, labels: dict, value: float) -> str:
    text = ",".join(f'{key}="{escape(str(val))}"' for key, val in sorted(labels.items()))
    number = repr(float(value)) if not float(value).is_integer() else str(int(value))
    return f"{name}{{{text}}} {number}" if text else f"{name} {number}"


def parse_timestamp(text: str) -> float | None:
    """Ollama's RFC 3339 times carry nanoseconds, which fromisoformat does not take."""
    if not text:
        return None
    head, _, rest = text.partition(".")
    if rest:
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    text = text.replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


class Exporter:
    def __init__(self, targets: list[str], discover: str | None, timeout: float):
        self.targets = [t.rstrip("/") for t in targets]
        self.discover = discover
        self.timeout = timeout
        self.errors: dict[str, int] = {}
        self.discovery_errors = 0
        self.names: dict[str, str] = {}
        self.lock = threading.Lock()

    def replicas(self) -> list[tuple[str, str]]:
        """(name, base URL) of every replica to poll."""
        found = [(t.split("://", 1)[-1], t) for t in self.targets]
        if self.discover:
            host, _, port = self.discover.rpartition(":")
            try:
                infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
                addresses = sorted({str(info[4][0]) for info in infos})
            except OSError:
                with self.lock:
                    self.discovery_errors += 1
                addresses = []
            for address in addresses:
                shown = f"[{address}]" if ":" in address else address
                found.append((self.replica_name(address), f"http://{shown}:{port}"))
        return found

    def replica_name(self, address: str) -> str:
        if address not in self.names:
            try:
                name = socket.gethostbyaddr(address)[0].split(".")[0] or address
            except OSError:
                name = address
            self.names[address] = name
        return self.names[address]

    def get(self, url: str) -> dict:
        with urllib.request.urlopen(url, timeout=self.timeout) as response:
            return json.load(response)

    def poll(self, name: str, base: str) -> list[str]:
        started = time.monotonic()
        replica = {"replica": name}
        lines = []
        try:
            tags = self.get(f"{base}/api/tags").get("models") or []
            loaded = self.get(f"{base}/api/ps").get("models") or []
        except (OSError, ValueError, urllib.error.URLError, AttributeError):
            with self.lock:
                self.errors[name] = self.errors.get(name, 0) + 1
            lines.append(sample("ollama_up", replica, 0))
        else:
            with self.lock:
                self.errors.setdefault(name, 0)
            lines.append(sample("ollama_up", replica, 1))
            lines.append(sample("ollama_models_present", replica, len(tags)))
            lines.append(sample("ollama_models_loaded", replica, len(loaded)))
            for model in tags:
                labels = {**replica, "model": str(model.get("name", ""))}
                lines.append(sample("ollama_model_size_bytes", labels, model.get("size", 0)))
            for model in loaded:
                labels = {**replica, "model": str(model.get("name", ""))}
                lines.append(sample("ollama_loaded_model_size_bytes", labels, model.get("size", 0)))
                lines.append(
                    sample("ollama_loaded_model_vram_bytes", labels, model.get("size_vram", 0))
                )
                expires = parse_timestamp(str(model.get("expires_at", "")))
                if expires is not None:
                    lines.append(
                        sample("ollama_loaded_model_expiry_timestamp_seconds", labels, expires)
                    )
        lines.append(
            sample("ollama_replica_poll_duration_seconds", replica, time.monotonic() - started)
        )
        return lines

    def collect(self) -> str:
        started = time.monotonic()
        replicas = self.replicas()
        by_metric: dict[str, list[str]] = {name: [] for name in METRICS}
        if replicas:
            with ThreadPoolExecutor(max_workers=min(16, len(replicas))) as pool:
                for lines in pool.map(lambda r: self.poll(*r), replicas):
                    for line in lines:
                        by_metric[line.split("{", 1)[0].split(" ", 1)[0]].append(line)
        by_metric["ollama_exporter_replicas"].append(
            sample("ollama_exporter_replicas", {}, len(replicas))
        )
        by_metric["ollama_exporter_poll_duration_seconds"].append(
            sample("ollama_exporter_poll_duration_seconds", {}, time.monotonic() - started)
        )
        with self.lock:
            for name, count in sorted(self.errors.items()):
                by_metric["ollama_exporter_scrape_errors_total"].append(
                    sample("ollama_exporter_scrape_errors_total", {"replica": name}, count)
                )
            by_metric["ollama_exporter_discovery_errors_total"].append(
                sample("ollama_exporter_discovery_errors_total", {}, self.discovery_errors)
            )
        out = []
        for name, (kind, text) in METRICS.items():
            if by_metric[name]:
                out += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", *by_metric[name]]
        return "\n".join(out) + "\n"


def handler_for(exporter: Exporter):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            if self.path == "/metrics":
                self.reply(200, exporter.collect(), CONTENT_TYPE)
            elif self.path == "/healthz":
                self.reply(200, "ok\n", "text/plain")
            else:
                self.reply(404, "not found: try /metrics\n", "text/plain")

        def reply(self, status: int, body: str, content_type: str):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # one line per scrape would flood the pod log
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--target", action="append", default=[], help="base URL of one Ollama replica (repeatable)"
    )
    parser.add_argument("--discover", help="HOST:PORT; every address of HOST is a replica")
    parser.add_argument("--listen", default="0.0.0.0:9101", help="address:port to serve on")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per Ollama request")
    args = parser.parse_args(argv)
    if not args.target and not args.discover:
        parser.error("give --target and/or --discover")
    host, _, port = args.listen.rpartition(":")
    exporter = Exporter(args.target, args.discover, args.timeout)
    server = ThreadingHTTPServer((host or "0.0.0.0", int(port)), handler_for(exporter))
    print(
        f"ollama-exporter: serving /metrics on {args.listen}; targets {args.target}, "
        f"discover {args.discover}",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
