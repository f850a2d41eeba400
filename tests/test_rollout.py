"""What a waiting or failing rollout says (components/rollout.py, rollout_watch.py): the pod's
phase and Kubernetes' reason, what it means here, and the next command; said while `up` waits.

The pods and events are shaped as the API server returns them (the scheduler's, kubelet's and
StatefulSet controller's own words in the messages)."""

import pytest

from components import rollout
from components.rollout_watch import WEBUI_ROLLOUT, RolloutWatch

KUBECTL = "kubectl --context icc -n wabc123-default"
OLLAMA = rollout.Workload(
    "Ollama",
    "ollama",
    {"app.kubernetes.io/name": "ollama"},
    "1 minutes (ollama.rolloutTimeoutMinutes)",
    loader="model-loader",
)
NOT_READY = {"spec": {"replicas": 1}, "status": {"replicas": 1, "readyReplicas": 0}}
UNSCHEDULABLE = (  # as kube-scheduler 1.36 says it
    "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) were unschedulable. no new "
    "claims to deallocate, preemption: 0/2 nodes are available: 2 Preemption is not helpful for "
    "scheduling."
)
QUOTA = (
    'create Pod ollama-0 in StatefulSet ollama failed error: pods "ollama-0" is forbidden: '
    "exceeded quota: compute, requested: requests.nvidia.com/gpu=1, used: "
    "requests.nvidia.com/gpu=1, limited: requests.nvidia.com/gpu=1"
)


def pod(phase="Pending", conditions=(), containers=()):
    return {
        "metadata": {"name": "ollama-0"},
        "status": {"phase": phase, "conditions": list(conditions), "containerStatuses": containers},
    }


def waiting(name, reason, message=""):
    return {
        "name": name,
        "ready": False,
        "state": {"waiting": {"reason": reason, "message": message}},
    }


def diagnose(pods, events=None, lines=None):
    return rollout.diagnose(OLLAMA, NOT_READY, pods, KUBECTL, events or {}, lines or {})


def test_a_pending_pod_without_a_free_gpu_says_so():
    scheduled = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": UNSCHEDULABLE,
    }
    (finding,) = diagnose([pod(conditions=[scheduled])])
    assert finding.state == (
        "Pending, Unschedulable: 0/2 nodes are available: 1 Insufficient nvidia.com/gpu, "
        "1 node(s) were unschedulable."
    )
    assert finding.meaning.startswith("no node has a free GPU (nvidia.com/gpu)")
    assert finding.look == f"{KUBECTL} describe pod ollama-0" and finding.problem
    text = rollout.block(OLLAMA, NOT_READY, [finding])
    assert text.splitlines() == [
        "Ollama is not Ready (0 of 1 replicas; `pulumi up` waits up to 1 minutes "
        f"(ollama.rolloutTimeoutMinutes)): ollama-0: {finding.state}",
        f"    means: {finding.meaning}",
        f"    look further: {KUBECTL} describe pod ollama-0",
    ]


def test_no_pod_because_the_quota_is_full_names_the_quota():
    (finding,) = diagnose([], events={"ollama": QUOTA})
    assert finding.subject == "ollama" and finding.state == f"1 of 1 pods not created: {QUOTA}"
    assert "quota has no room" in finding.meaning and "describe resourcequota" in finding.meaning
    assert finding.look == f"{KUBECTL} describe statefulset ollama"


def test_an_image_that_cannot_be_pulled_names_the_container():
    back_off = waiting("ollama", "ImagePullBackOff", 'Back-off pulling image "ollama/ollama:9"')
    scheduled = {"type": "PodScheduled", "status": "True"}
    (finding,) = diagnose([pod(conditions=[scheduled], containers=[back_off])])
    assert finding.state == (
        'Pending, ImagePullBackOff (container ollama): Back-off pulling image "ollama/ollama:9"'
    )
    assert finding.meaning.startswith("the image cannot be pulled")


def test_a_crashing_container_points_at_its_previous_log():
    crash = waiting("ollama", "CrashLoopBackOff", "back-off 40s restarting failed container")
    (finding,) = diagnose([pod("Running", containers=[crash])])
    assert finding.look == f"{KUBECTL} logs ollama-0 -c ollama --previous"


def test_a_replica_waiting_for_its_models_shows_the_loader_and_how_to_follow_it():
    ready_false = {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}
    line = "2026-01-01T00:00:00Z model-loader: pulling llama3.2:1b (progress is not logged)"
    (finding,) = diagnose([pod("Running", [ready_false])], lines={"ollama-0": line})
    assert not finding.problem and finding.state == "Running, waiting for its models"
    assert finding.look == f"{KUBECTL} logs -f ollama-0 -c model-loader"
    text = rollout.block(OLLAMA, NOT_READY, [finding])
    assert text.endswith(
        f"ollama-0: Running, waiting for its models (model-loader: {line})\n"
        f"    look further: {KUBECTL} logs -f ollama-0 -c model-loader"
    )


def test_a_failing_readiness_check_without_a_loader_gives_the_probe_message():
    webui = rollout.Workload("Open WebUI", "open-webui", {}, "15 minutes")
    ready_false = {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}
    probe = "Readiness probe failed: HTTP probe failed with statuscode: 500"
    (finding,) = rollout.diagnose(
        webui, NOT_READY, [pod("Running", [ready_false])], KUBECTL, {"ollama-0": probe}, {}
    )
    assert finding.state == f"Running, not Ready: {probe}" and finding.problem


def test_a_ready_statefulset_has_nothing_to_say():
    ready = {
        "metadata": {"generation": 2},
        "spec": {"replicas": 2},
        "status": {
            "observedGeneration": 2,
            "readyReplicas": 2,
            "updatedReplicas": 2,
            "currentRevision": "r2",
            "updateRevision": "r2",
        },
    }
    assert rollout.diagnose(OLLAMA, ready, [pod()], KUBECTL, {}, {}) == []
    stale = {**ready, "status": {**ready["status"], "observedGeneration": 1}}
    assert not rollout.is_ready(stale)


class Said:
    def __init__(self):
        self.warnings, self.infos = [], []

    def warn(self, text):
        self.warnings.append(text)

    def info(self, text, ephemeral=None):
        self.infos.append((text, ephemeral))


def watch():
    said = Said()
    return RolloutWatch(None, "wabc123-default", KUBECTL, [OLLAMA], said.warn, said.info), said


def test_the_watch_warns_once_per_new_problem():
    the_watch, said = watch()
    scheduled = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": UNSCHEDULABLE,
    }
    findings = diagnose([pod(conditions=[scheduled])])
    the_watch.report(OLLAMA, NOT_READY, findings)
    the_watch.report(OLLAMA, NOT_READY, findings)
    assert len(said.warnings) == 1 and "Unschedulable" in said.warnings[0]
    quota = diagnose([], events={"ollama": QUOTA})
    the_watch.report(OLLAMA, NOT_READY, quota)
    assert len(said.warnings) == 2 and "exceeded quota" in said.warnings[1]


def test_the_watch_shows_how_to_follow_the_loader_then_its_progress_as_a_status():
    the_watch, said = watch()
    ready_false = {"type": "Ready", "status": "False"}
    for line in ("pulling llama3.2:1b", "pulling llama3.2:1b", "all models present"):
        findings = diagnose([pod("Running", [ready_false])], lines={"ollama-0": line})
        the_watch.report(OLLAMA, NOT_READY, findings)
    block, *progress = said.infos
    assert block[1] is None and f"{KUBECTL} logs -f ollama-0 -c model-loader" in block[0]
    assert progress == [
        ("ollama-0 model-loader: pulling llama3.2:1b", True),
        ("ollama-0 model-loader: all models present", True),
    ]
    assert said.warnings == []


def test_the_watched_names_are_the_rendered_ones(icc):
    statefulset = icc.one("kubernetes:apps/v1:StatefulSet", "ollama").inputs
    containers = [c["name"] for c in statefulset["spec"]["template"]["spec"]["containers"]]
    assert OLLAMA.loader in containers
    webui = icc.options_of("kubernetes:apps/v1:StatefulSet", "open-webui")
    assert webui.custom_timeouts["create"] == f"{WEBUI_ROLLOUT}m"


@pytest.mark.parametrize("text", [UNSCHEDULABLE, QUOTA, "ErrImagePull", "CrashLoopBackOff"])
def test_every_known_reason_has_words(text):
    assert rollout.meaning(text)


class FakeApi:
    """Canned answers by path prefix, as the API server would give them."""

    def __init__(self, answers):
        self.answers, self.asked = answers, []

    def get(self, path, timeout):
        self.asked.append(path)
        for prefix, body in self.answers.items():
            if path.startswith(prefix):
                return (200, body) if body is not None else (404, {})
        return 404, {}


def test_the_watch_looks_up_the_set_its_pods_and_their_current_events():
    base = "/api/v1/namespaces/wabc123-default"
    statefulset = {**NOT_READY, "metadata": {"uid": "s1"}}
    scheduled = {"type": "PodScheduled", "status": "True"}
    pending = {**pod(conditions=[scheduled]), "metadata": {"name": "ollama-0", "uid": "p2"}}
    old = {"involvedObject": {"name": "ollama-0", "uid": "p1"}, "message": "from a replaced pod"}
    mount = {
        "involvedObject": {"name": "ollama-0", "uid": "p2"},
        "lastTimestamp": "2026-01-01T00:00:05Z",
        "message": "MountVolume.SetUp failed for volume models",
    }
    api = FakeApi(
        {
            "/apis/apps/v1/namespaces/wabc123-default/statefulsets/ollama": statefulset,
            f"{base}/pods?": {"items": [pending]},
            f"{base}/events?": {"items": [mount, old]},
        }
    )
    said = Said()
    the_watch = RolloutWatch(api, "wabc123-default", KUBECTL, [OLLAMA], said.warn, said.info)
    the_watch.look(OLLAMA)
    assert api.asked[1] == f"{base}/pods?labelSelector=app.kubernetes.io/name%3Dollama"
    (text,) = said.warnings
    assert "ollama-0: Pending, starting: MountVolume.SetUp failed for volume models" in text
