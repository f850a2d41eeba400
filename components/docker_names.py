"""The fixed names of the Docker target's containers and volumes (standard library only).

Container and volume names are global on a Docker host, so they are fixed and short; they are the
Kubernetes workloads' names, so logs, docs and commands read the same everywhere. The component
(docker_stack.py) creates them and the next steps (next_steps.py) name them to the user.
"""

OLLAMA = "ollama"
WEBUI = "open-webui"
LOADER = f"{OLLAMA}-model-loader"
OLLAMA_VOLUME = f"{OLLAMA}-models"
WEBUI_VOLUME = f"{WEBUI}-data"
BACKUP = f"{WEBUI}-backup"
BACKUP_VOLUME = f"{WEBUI}-backups"
