"""The `webui` section: Open WebUI's image, resources, storage, sign-up and OpenAI access."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from settings.backup import Backup
from settings.base import MI, KeyedError, Model, PinnedImage, Resources, Storage
from settings.quantity import parse_quantity


class OpenAi(Model):
    enabled: bool = False
    base_url: str = "https://api.openai.com/v1"

    @model_validator(mode="after")
    def _url_is_http(self) -> OpenAi:
        if not re.match(r"^https?://[^\s/]+", self.base_url):
            raise ValueError(f"baseUrl '{self.base_url}' must be an http(s) URL")
        return self


def _check_login_email(value: str) -> str:
    # Open WebUI's own rule (open_webui/utils/misc.py:767-771 in 0.11.0): name@localhost, or
    # something@domain.tld. It stores and compares e-mails in lower case.
    if value != value.lower() or re.search(r"\s", value):
        raise ValueError(f"use lower case and no spaces: {value.lower().strip()}")
    if not (value.endswith("@localhost") or re.fullmatch(r"[^@]+@[^@]+\.[^@]+", value)):
        raise ValueError(
            "must be an e-mail address such as admin@localhost or chat-admin@haw-hamburg.de"
        )
    return value


LoginEmail = Annotated[str, AfterValidator(_check_login_email)]
# The keys `webui.signup` replaced; named so an old stack config gets a migration hint.
_RETIRED_KEYS = {"enableSignup": "webui.signup", "defaultUserRole": "webui.signup"}


class WebUi(Model):
    image: PinnedImage = "ghcr.io/open-webui/open-webui:v0.11.0"
    resources: Resources
    storage: Storage
    auth: bool = True
    # Who gets an account besides the admin: `approval` (anyone may sign up and waits as
    # pending until the admin approves), `open` (sign-up gives a working account at once),
    # `closed` (only the admin adds accounts, Admin Panel > Users).
    signup: Literal["approval", "open", "closed"] = "approval"
    # The admin account created at the first start (password: the secret webuiAdminPassword).
    admin_email: LoginEmail = "admin@localhost"
    # all: every signed-in user may chat with every model Ollama holds (ollama.models).
    # granted: models stay admin-only until the admin grants access per model.
    model_access: Literal["all", "granted"] = "all"
    # False: the stack config is the truth and wins over settings saved in the UI at each start.
    persistent_config: bool = False
    openai: OpenAi = OpenAi()
    # Snapshots of the database on storage of their own (settings/backup.py).
    backup: Backup = Backup()
    local_port: int = Field(default=8080, ge=1024, le=65535)

    @model_validator(mode="before")
    @classmethod
    def _retired_keys(cls, data: Any) -> Any:
        for old, new in _RETIRED_KEYS.items():
            if isinstance(data, Mapping) and old in data:
                raise KeyedError(
                    old,
                    None,
                    f"replaced by {new} (approval | open | closed); remove it with "
                    f"`pulumi config rm --path webui.{old}` and set e.g. "
                    f"`pulumi config set --path {new} approval`",
                    relative=True,
                )
        return data

    @model_validator(mode="after")
    def _room_to_start(self) -> WebUi:
        # Open WebUI's Python backend alone needs about 400Mi before the first chat.
        if parse_quantity(self.resources.limits.memory) < 512 * MI:
            raise KeyedError(
                "webui.resources.limits.memory",
                self.resources.limits.memory,
                "must be at least 512Mi: Open WebUI needs about 400Mi to start",
            )
        return self
