"""The `webui` section: Open WebUI's image, resources, storage, sign-up and OpenAI access."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from settings.base import MI, KeyedError, Model, PinnedImage, Resources, Storage
from settings.quantity import parse_quantity


class OpenAi(Model):
    enabled: bool = False
    base_url: str = "https://api.openai.com/v1"

    @model_validator(mode="after")
    def _url_is_http(self) -> "OpenAi":
        if not re.match(r"^https?://[^\s/]+", self.base_url):
            raise ValueError(f"baseUrl '{self.base_url}' must be an http(s) URL")
        return self


class WebUi(Model):
    image: PinnedImage = "ghcr.io/open-webui/open-webui:v0.11.0"
    resources: Resources
    storage: Storage
    auth: bool = True
    enable_signup: bool = True
    default_user_role: Literal["pending", "user", "admin"] = "pending"
    # False: the stack config is the truth and wins over settings saved in the UI at each start.
    persistent_config: bool = False
    openai: OpenAi = OpenAi()
    local_port: int = Field(default=8080, ge=1024, le=65535)

    @model_validator(mode="after")
    def _room_to_start(self) -> "WebUi":
        # Open WebUI's Python backend alone needs about 400Mi before the first chat.
        if parse_quantity(self.resources.limits.memory) < 512 * MI:
            raise KeyedError("webui.resources.limits.memory", self.resources.limits.memory,
                             "must be at least 512Mi: Open WebUI needs about 400Mi to start")
        return self
