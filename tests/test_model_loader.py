"""The model-loader script, run for real against a fake `ollama` command."""

import os
import stat
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "payloads" / "model-loader.sh"

# A stand-in for the ollama CLI: models live as files in $FAKE_STORE; `pull` fails as many
# times as $FAKE_FAILURES says, then exits 0 without the model $FAKE_STREAM_ENDS times, then
# succeeds.
FAKE_OLLAMA = """#!/bin/sh
store="$FAKE_STORE"
case "$1" in
  list) exit 0 ;;
  show) [ -f "$store/$2" ] ;;
  pull)
    count=$(cat "$store/.attempts" 2>/dev/null || echo 0)
    echo $((count + 1)) > "$store/.attempts"
    # Like the real CLI: progress redrawn with escape codes on stderr, terminal or not.
    printf '\033[?25lpulling manifest \033[K\n\033[?25h' >&2
    printf '\033[A\033[1Gpulling 74701a8c35f6: 42%%\033[K' >&2
    if [ "$count" -lt "${FAKE_FAILURES:-0}" ]; then printf '\nError: pull failed\n' >&2; exit 1; fi
    # The stream may just end (server restarted mid-pull): exit 0, no model.
    if [ "$count" -lt "$((${FAKE_FAILURES:-0} + ${FAKE_STREAM_ENDS:-0}))" ]; then exit 0; fi
    printf '\033[A\033[1Gsuccess \033[K\n' >&2; touch "$store/$2" ;;
  *) exit 2 ;;
esac
"""


@pytest.fixture
def fake_env(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "ollama"
    fake.write_text(FAKE_OLLAMA)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    # `sleep` is replaced too, so retries take no wall-clock time in the test.
    sleeper = bin_dir / "sleep"
    sleeper.write_text('#!/bin/sh\necho "slept $1" >> "$FAKE_STORE/.sleeps"\n')
    sleeper.chmod(0o755)
    store = tmp_path / "store"
    store.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "TMPDIR": str(state),
        "FAKE_STORE": str(store),
        "OLLAMA_MODELS_WANTED": "llama3.2:1b phi3",
        "ONESHOT": "1",
    }
    return env, store


def run(env, *args):
    return subprocess.run(
        ["/bin/sh", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=30
    )


def test_check_fails_until_every_model_is_present(fake_env):
    env, store = fake_env
    assert run(env, "check").returncode == 1
    (store / "llama3.2:1b").touch()
    assert run(env, "check").returncode == 1
    (store / "phi3").touch()
    assert run(env, "check").returncode == 0


def test_failed_pulls_are_retried_with_growing_backoff_and_logged(fake_env):
    env, store = fake_env
    result = run(
        {**env, "FAKE_FAILURES": "3"},
    )
    assert result.returncode == 0, result.stderr
    assert (
        "pull of llama3.2:1b failed: Error: pull failed (attempt 1); retrying in 5s"
        in result.stdout
    )
    assert "pulled llama3.2:1b after 4 attempt(s)" in result.stdout
    assert (store / ".sleeps").read_text().split("\n")[:3] == ["slept 5", "slept 10", "slept 20"]
    assert run(env, "check").returncode == 0


def test_present_models_are_not_pulled_again(fake_env):
    env, store = fake_env
    (store / "llama3.2:1b").touch()
    (store / "phi3").touch()
    result = run(env)
    assert result.returncode == 0
    assert "pulling" not in result.stdout
    assert not (store / ".attempts").exists()


def test_a_pull_that_ends_without_the_model_is_retried(fake_env):
    # `ollama pull` exits 0 when the stream just ends (Ollama v0.32.15's streaming API client).
    env, store = fake_env
    result = run({**env, "FAKE_STREAM_ENDS": "2", "OLLAMA_MODELS_WANTED": "phi3"})
    assert result.returncode == 0, result.stderr
    assert "pull of phi3 ended without the model" in result.stdout
    assert "(attempt 2); retrying in 10s" in result.stdout
    assert "pulled phi3 after 3 attempt(s): success" in result.stdout
    assert run({**env, "OLLAMA_MODELS_WANTED": "phi3"}, "check").returncode == 0


def test_logs_carry_no_progress_escape_codes(fake_env):
    env, _ = fake_env
    result = run({**env, "FAKE_FAILURES": "1"})
    assert result.returncode == 0, result.stderr
    assert "\033" not in result.stdout + result.stderr
    assert "pulled llama3.2:1b after 2 attempt(s): success" in result.stdout


def test_alive_while_the_loop_beats_or_a_pull_writes_progress(fake_env):
    env, _store = fake_env
    state = Path(env["TMPDIR"])
    assert run(env, "alive").returncode == 1  # never started
    assert run(env).returncode == 0
    assert run(env, "alive").returncode == 0  # the pass just beat
    heartbeat = state / "model-loader.heartbeat"
    stale = heartbeat.stat().st_mtime - 20 * 60
    os.utime(heartbeat, (stale, stale))
    assert run(env, "alive").returncode == 1  # hung for 20 minutes
    assert run({**env, "ALIVE_SECONDS": "1800"}, "alive").returncode == 0
    (state / "model-loader-progress.42").write_text("pulling 74701a8c35f6: 42%")
    assert run(env, "alive").returncode == 0  # a long pull still writes its progress
