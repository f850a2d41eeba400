"""What Ollama and its model loader are told on every target: port, environment, the loader
script. Shared by components/ollama.py (Kubernetes) and components/docker_stack.py.
"""

from __future__ import annotations

from pathlib import Path

from settings.ollama import Ollama

PORT = 11434
SCRIPT = Path(__file__).resolve().parents[1] / "payloads" / "model-loader.sh"
SCRIPT_DIR = "/opt/icc-ollama"
CUDA_ENV = {
    "PATH": "/usr/local/nvidia/bin:/usr/local/cuda/bin:/usr/local/sbin:/usr/local/bin:"
    "/usr/sbin:/usr/bin:/sbin:/bin",
    "LD_LIBRARY_PATH": "/usr/local/nvidia/lib:/usr/local/nvidia/lib64",
    "NVIDIA_DRIVER_CAPABILITIES": "compute,utility",
}
# The loader uses the Ollama image, which sets NVIDIA_VISIBLE_DEVICES=all (Ollama v0.32.15
# Dockerfile:316): on a node whose default runtime is nvidia it would see every GPU without
# requesting one. It needs none.
LOADER_ENV = {"NVIDIA_VISIBLE_DEVICES": "void"}


def ollama_env(settings: Ollama) -> dict[str, str]:
    """Server environment, shared by the Kubernetes and Docker targets."""
    env = {
        "OLLAMA_HOST": f"0.0.0.0:{PORT}",
        "OLLAMA_KEEP_ALIVE": settings.keep_alive,
        "OLLAMA_NUM_PARALLEL": str(settings.num_parallel),
        "OLLAMA_MAX_LOADED_MODELS": str(settings.max_loaded_models),
        "OLLAMA_MODELS_WANTED": " ".join(settings.models),
    }
    if settings.gpu.enabled and settings.gpu.cuda_env:
        env.update(CUDA_ENV)
    return env
