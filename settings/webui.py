"""The `webui` section: Open WebUI's image, resources, storage, sign-up and OpenAI access."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from settings.backup import Backup
from settings.base import MI, KeyedError, Model, Resources, Storage
from settings.images import pinned_image
from settings.quantity import parse_quantity

# The pinned default; image refusals show it as the example.
WEBUI_IMAGE = "ghcr.io/open-webui/open-webui:v0.12.4"


class OpenAi(Model):
    enabled: bool = False
    base_url: str = "https://api.openai.com/v1"

    @model_validator(mode="after")
    def _url_is_http(self) -> OpenAi:
        if not re.match(r"^https?://[^\s/]+", self.base_url):
            raise ValueError(f"baseUrl '{self.base_url}' must be an http(s) URL")
        return self


# Open WebUI's rules for a login, the same in 0.11.0 and 0.12.4: sign-up and "add user" accept only
# what `validate_email_format` (open_webui.utils.misc) accepts, `name@localhost` or
# `something@domain.tld`, and every path stores and compares e-mails lower-cased. The admin made
# from WEBUI_ADMIN_EMAIL (`create_admin_user`, open_webui.utils.auth) skips that check, so it is
# made here. And the sign-in page's field is an `<input type="email">`: browsers submit only what
# the HTML standard calls a valid e-mail address (ASCII; an international domain goes out in its
# xn-- form), so another address could never be typed in to sign in.
_HTML_EMAIL = re.compile(
    r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*"
)
_EMAIL_EXAMPLE = "e.g. admin@localhost or chat-admin@haw-hamburg.de"


def _ascii_domain(value: str) -> str | None:
    """`name@xn--...` for an ASCII name with an international domain, or None."""
    local, _, domain = value.rpartition("@")
    if not local.isascii():
        return None
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return None


def _check_login_email(value: str) -> str:
    if re.search(r"\s", value):
        raise ValueError(f"must have no spaces; {_EMAIL_EXAMPLE}")
    if value != value.lower():
        raise ValueError(f"use lower case (Open WebUI stores it so): {value.lower()}")
    if not value.isascii():
        ascii_form = _ascii_domain(value)
        hint = f"write the domain as browsers send it: {ascii_form}" if ascii_form else ""
        raise ValueError(
            f"Open WebUI's sign-in form accepts only ASCII addresses, so this admin could "
            f"never sign in; {hint or _EMAIL_EXAMPLE}"
        )
    if not _HTML_EMAIL.fullmatch(value):
        raise ValueError(
            f"is not an address Open WebUI's sign-in form accepts (one '@', letters, digits "
            f"and .!#$%&'*+/=?^_`{{|}}~- before it, a domain name after it); {_EMAIL_EXAMPLE}"
        )
    if not (value.endswith("@localhost") or re.match(r"[^@]+@[^@]+\.[^@]+", value)):
        raise ValueError(
            f"Open WebUI wants name@localhost or a domain with a dot; {_EMAIL_EXAMPLE}"
        )
    return value


LoginEmail = Annotated[str, AfterValidator(_check_login_email)]
# The keys `webui.signup` replaced; named so an old stack config gets a migration hint.
_RETIRED_KEYS = {"enableSignup": "webui.signup", "defaultUserRole": "webui.signup"}


class WebUi(Model):
    image: Annotated[str, AfterValidator(pinned_image(WEBUI_IMAGE))] = WEBUI_IMAGE
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
    # True: Open WebUI asks no model hub for anything (OFFLINE_MODE), for sites that cannot reach
    # it: while the embedding model is not on the data volume, each start would otherwise retry
    # its download for about 70 s (without it, documents need another embedding engine).
    offline: bool = False
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
