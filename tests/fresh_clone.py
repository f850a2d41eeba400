"""A fresh clone of the working tree, with HOME in a temp dir: what a new user starts from
(tests/e2e/test_first_run.py, with the real CLI)."""

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class Clone:
    """The repository's working tree as a new git repository, HOME in a temp dir, `bin_dir`
    (holding the `pulumi` to use) first on PATH. `replace` swaps files before the first commit."""

    def __init__(self, root: Path, bin_dir: Path, replace: dict[str, str] | None = None):
        self.dir, self.home = root / "clone", root / "home"
        files = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        for name in files:
            if (REPO / name).is_file():
                (self.dir / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, self.dir / name)
        for name, text in (replace or {}).items():
            (self.dir / name).write_text(text)
        self.git("init", "-q")
        self.git("add", "-A")
        self.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "fresh clone")
        (self.dir / ".venv").symlink_to((REPO / ".venv").resolve())  # ignored, as in a worktree
        self.home.mkdir()
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PULUMI_", "ICC_OLLAMA_", "MAKE"))
        }
        self.env.update(HOME=str(self.home), PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def real_cli(self, bin_dir: Path) -> None:
        """Run the real-engine tier's CLI and language host (scripts/e2e-tools.sh) as a new user
        would: Pulumi's state and plugins in the fresh home's ~/.pulumi, where Pulumi.yaml's
        `file://~` puts them (Pulumi reads `~` from the account's passwd entry, not $HOME, so
        both are named), no update check, no plugin downloads (no GitHub here). The stand-in
        language host (v3.79.0, CONTRIBUTING.md) runs the first `python3` on PATH: the
        clone's virtualenv."""
        self.env["PATH"] = os.pathsep.join(
            [str(bin_dir), str(self.dir / ".venv" / "bin"), self.env["PATH"]]
        )
        self.env.update(
            PULUMI_BACKEND_URL=f"file://{self.home}",
            PULUMI_HOME=str(self.home / ".pulumi"),
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            NO_COLOR="1",
        )

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.dir, check=True, capture_output=True, text=True
        ).stdout

    def make(self, *args: str, ok: bool = True, input: str = "") -> subprocess.CompletedProcess:
        # -o: the shared virtualenv is never rebuilt from here.
        result = subprocess.run(
            ["make", "--no-print-directory", "-o", ".venv/.installed", *args],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            input=input,
        )
        if ok:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def status(self) -> str:
        return self.git("status", "--porcelain", "--untracked-files=all")
