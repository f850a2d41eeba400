"""The Ollama exporter (payloads/ollama-exporter.py), run for real against a fake Ollama.

The output is parsed with prometheus_client's own text-format parser, so a malformed line, a
family split in two or a wrong TYPE fails here rather than as a silent scrape error.
"""

import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client.parser import text_string_to_metric_families

from components.monitoring_values import EXPORTER_SCRIPT

GIB = 1024**3
TAGS = {
    "models": [
        {"name": "llama3.2:1b", "size": 1321098329},
        {"name": "phi3:latest", "size": 2176178913},
    ]
}
PS = {
    "models": [
        {
            "name": "llama3.2:1b",
            "size": 2 * GIB,
            "size_vram": GIB,
            "expires_at": "2026-09-01T12:30:00.123456789+02:00",
        }
    ]
}


def load_exporter():
    spec = importlib.util.spec_from_file_location("ollama_exporter", EXPORTER_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


exporter_module = load_exporter()


class FakeOllama:
    """Answers /api/tags and /api/ps like Ollama; `broken` makes it answer 500."""

    def __init__(self):
        self.tags, self.ps, self.broken, self.requests = TAGS, PS, False, []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                fake.requests.append(self.path)
                body = {"/api/tags": fake.tags, "/api/ps": fake.ps}.get(self.path)
                status = 500 if fake.broken or body is None else 200
                data = json.dumps(body if status == 200 else {"error": "boom"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # A short poll interval: shutdown() waits up to one interval (0.5 s by default).
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ollama():
    fake = FakeOllama()
    yield fake
    fake.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def running_exporter(ollama):
    """The script as the pod runs it: its own process, serving HTTP."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(EXPORTER_SCRIPT),
            "--target",
            ollama.url,
            "--listen",
            f"127.0.0.1:{port}",
            "--timeout",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
            break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        pytest.fail(f"exporter did not start: {process.communicate()[0]}")
    yield base
    process.terminate()
    process.wait(timeout=10)


def families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(text: str, name: str) -> dict:
    """{frozenset(labels.items()): value} of one metric's samples."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[frozenset(sample.labels.items())] = sample.value
    return found


def value(text: str, name: str, **labels) -> float:
    return samples(text, name)[frozenset(labels.items())]


def test_metrics_endpoint_serves_parseable_text_format(running_exporter, ollama):
    response = urllib.request.urlopen(f"{running_exporter}/metrics", timeout=10)
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.read().decode()
    found = families(text)
    replica = f"127.0.0.1:{ollama.port}"
    assert value(text, "ollama_up", replica=replica) == 1
    assert value(text, "ollama_models_present", replica=replica) == 2
    assert value(text, "ollama_models_loaded", replica=replica) == 1
    assert (
        value(text, "ollama_model_size_bytes", replica=replica, model="phi3:latest") == 2176178913
    )
    assert (
        value(text, "ollama_loaded_model_size_bytes", replica=replica, model="llama3.2:1b")
        == 2 * GIB
    )
    assert (
        value(text, "ollama_loaded_model_vram_bytes", replica=replica, model="llama3.2:1b") == GIB
    )
    # 12:30:00.123 at +02:00 is 10:30:00.123 UTC; nanoseconds cut to microseconds.
    expiry = value(
        text, "ollama_loaded_model_expiry_timestamp_seconds", replica=replica, model="llama3.2:1b"
    )
    assert expiry == pytest.approx(1788258600.123456, abs=1e-5)
    assert value(text, "ollama_exporter_replicas") == 1
    assert 0 <= value(text, "ollama_exporter_poll_duration_seconds") < 10
    assert found["ollama_exporter_scrape_errors"].type == "counter"  # parser drops _total
    assert found["ollama_up"].type == "gauge" and found["ollama_up"].documentation
    assert {"/api/tags", "/api/ps"} <= set(ollama.requests)


def test_every_family_is_declared_once_and_contiguous(running_exporter):
    text = urllib.request.urlopen(f"{running_exporter}/metrics", timeout=10).read().decode()
    lines = [line for line in text.splitlines() if line]
    seen, current = set(), None
    for line in lines:
        if line.startswith("# TYPE "):
            name = line.split()[2]
            assert name not in seen, f"{name} declared twice"
            seen.add(name)
            current = name
        elif not line.startswith("#"):
            assert line.split("{")[0].split(" ")[0] == current, f"{line} outside its family"
    assert seen == set(exporter_module.METRICS)  # a healthy replica gives every family


def test_healthz_does_not_poll_ollama(running_exporter, ollama):
    assert urllib.request.urlopen(f"{running_exporter}/healthz", timeout=5).read() == b"ok\n"
    assert ollama.requests == []
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{running_exporter}/other", timeout=5)


def test_a_failing_replica_is_down_and_counted(running_exporter, ollama):
    ollama.broken = True
    replica = f"127.0.0.1:{ollama.port}"
    for expected_errors in (1, 2):
        text = urllib.request.urlopen(f"{running_exporter}/metrics", timeout=10).read().decode()
        assert value(text, "ollama_up", replica=replica) == 0
        assert (
            value(text, "ollama_exporter_scrape_errors_total", replica=replica) == expected_errors
        )
        assert not samples(text, "ollama_models_loaded")  # nothing made up for a down replica
    ollama.broken = False
    text = urllib.request.urlopen(f"{running_exporter}/metrics", timeout=10).read().decode()
    assert value(text, "ollama_up", replica=replica) == 1
    assert value(text, "ollama_exporter_scrape_errors_total", replica=replica) == 2  # a counter


def test_an_unreachable_replica_is_down_not_an_error_page(ollama):
    exporter = exporter_module.Exporter([f"http://127.0.0.1:{free_port()}"], None, timeout=1)
    text = exporter.collect()
    assert list(samples(text, "ollama_up").values()) == [0]


def test_discovery_polls_every_address_and_names_it_by_reverse_dns(ollama, monkeypatch):
    addresses = {
        ("10.0.0.7", "ollama-0.ollama-headless.ns.svc.cluster.local"),
        ("10.0.0.9", "ollama-1.ollama-headless.ns.svc.cluster.local"),
    }
    looked_up = []

    def getaddrinfo(host, port, type=0):
        looked_up.append((host, port))
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip, _ in addresses]

    def gethostbyaddr(ip):
        return dict(addresses)[ip], [], [ip]

    polled = []
    exporter = exporter_module.Exporter([], "ollama-headless.ns.svc.cluster.local:11434", 1)
    monkeypatch.setattr(exporter_module.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(exporter_module.socket, "gethostbyaddr", gethostbyaddr)
    monkeypatch.setattr(
        exporter,
        "get",
        lambda url: polled.append(url) or (TAGS if url.endswith("/api/tags") else PS),
    )
    text = exporter.collect()
    assert looked_up == [("ollama-headless.ns.svc.cluster.local", 11434)]
    assert sorted(polled) == [
        "http://10.0.0.7:11434/api/ps",
        "http://10.0.0.7:11434/api/tags",
        "http://10.0.0.9:11434/api/ps",
        "http://10.0.0.9:11434/api/tags",
    ]
    assert samples(text, "ollama_up") == {
        frozenset({("replica", "ollama-0")}): 1,
        frozenset({("replica", "ollama-1")}): 1,
    }
    assert value(text, "ollama_exporter_replicas") == 2


def test_failed_discovery_is_counted_and_polls_nothing(monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror("no such host")

    exporter = exporter_module.Exporter([], "ollama-headless.gone.svc.cluster.local:11434", 1)
    monkeypatch.setattr(exporter_module.socket, "getaddrinfo", no_dns)
    text = exporter.collect()
    families(text)  # still valid
    assert value(text, "ollama_exporter_replicas") == 0
    assert value(text, "ollama_exporter_discovery_errors_total") == 1
    assert not samples(text, "ollama_up")


def test_odd_model_names_and_numbers_stay_valid(ollama):
    ollama.tags = {"models": [{"name": 'we"ird\\name\n', "size": 1.5}]}
    ollama.ps = {"models": None}
    text = exporter_module.Exporter([ollama.url], None, 2).collect()
    (labels,) = samples(text, "ollama_model_size_bytes")
    assert dict(labels)["model"] == 'we"ird\\name\n'
    assert samples(text, "ollama_models_loaded") == {
        frozenset({("replica", f"127.0.0.1:{ollama.port}")}): 0
    }


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-09-01T10:30:00Z", 1788258600.0),
        ("2026-09-01T12:30:00.5+02:00", 1788258600.5),
        ("2026-09-01T10:30:00.123456789Z", 1788258600.123456),
        ("", None),
        ("soon", None),
    ],
)
def test_ollama_timestamps_parse(text, expected):
    parsed = exporter_module.parse_timestamp(text)
    assert parsed == (pytest.approx(expected, abs=1e-6) if expected is not None else None)


def test_the_script_needs_a_target():
    result = subprocess.run(
        [sys.executable, str(EXPORTER_SCRIPT)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2 and "--target and/or --discover" in result.stderr


def test_the_script_uses_only_the_standard_library():
    imports = [
        line.split()[1].split(".")[0]
        for line in EXPORTER_SCRIPT.read_text().splitlines()
        if line.startswith(("import ", "from ")) and "__future__" not in line
    ]
    assert set(imports) <= set(sys.stdlib_module_names), imports
