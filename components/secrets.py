"""The secrets a stack needs and nobody has to choose: made once by the program, kept in the state.

Open WebUI's session key, its admin's initial password and Grafana's admin password are
`random.RandomPassword` resources: created on the first `pulumi up`, stable on every later run (a
RandomPassword changes only when its own inputs change), stored encrypted in the stack's state and
readable with `pulumi stack output --show-secrets <name>`. A value the user sets with
`pulumi config set --secret <key>` wins and no resource is made for it, so existing stacks whose
config holds these secrets keep them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random
from pydantic import SecretStr

# Letters and digits only: each value travels through env vars, a shell-free start command and
# Open WebUI's and Grafana's own forms, where some punctuation needs quoting. 64 characters give
# Open WebUI's JWT key 380 bits; 24 give a password 142 bits.
SECRET_KEY_LENGTH = 64
PASSWORD_LENGTH = 24


@dataclass(frozen=True)
class StackSecretsArgs:
    """Each field: the value from stack config, or None to let the program make one."""

    webui_secret_key: SecretStr | None
    webui_admin_password: SecretStr | None
    grafana_admin_password: SecretStr | None
    # Which secrets this stack uses at all (no Grafana password without monitoring, no admin
    # password while webui.auth is off).
    needs_admin_password: bool
    needs_grafana_password: bool


class StackSecrets(pulumi.ComponentResource):
    """`webui_secret_key`, `webui_admin_password` and `grafana_admin_password` as secret Outputs
    (None where the stack does not use one); `generated` names the ones the program made."""

    webui_secret_key: pulumi.Output[str]
    webui_admin_password: pulumi.Output[str] | None
    grafana_admin_password: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: StackSecretsArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("icc:secrets:StackSecrets", name, None, opts)
        self._name = name
        self._provider: random.Provider | None = None
        self.generated: list[str] = []
        self.webui_secret_key = self._secret(
            "webui-secret-key", "webuiSecretKey", args.webui_secret_key, SECRET_KEY_LENGTH
        )
        self.webui_admin_password = (
            self._secret(
                "webui-admin-password",
                "webuiAdminPassword",
                args.webui_admin_password,
                PASSWORD_LENGTH,
            )
            if args.needs_admin_password
            else None
        )
        self.grafana_admin_password = (
            self._secret(
                "grafana-admin-password",
                "grafanaAdminPassword",
                args.grafana_admin_password,
                PASSWORD_LENGTH,
            )
            if args.needs_grafana_password
            else None
        )
        self.register_outputs(
            {
                "webuiSecretKey": self.webui_secret_key,
                "webuiAdminPassword": self.webui_admin_password,
                "grafanaAdminPassword": self.grafana_admin_password,
            }
        )

    def _secret(
        self, role: str, key: str, configured: SecretStr | None, length: int
    ) -> pulumi.Output[str]:
        if configured is not None:
            return pulumi.Output.secret(configured.get_secret_value())
        self.generated.append(key)
        if self._provider is None:
            # Explicit, as every provider here (Pulumi.yaml disables default providers).
            self._provider = random.Provider(
                f"{self._name}-random", opts=pulumi.ResourceOptions(parent=self)
            )
        password = random.RandomPassword(
            f"{self._name}-{role}",
            length=length,
            special=False,
            opts=pulumi.ResourceOptions(parent=self, provider=self._provider),
        )
        return pulumi.Output.secret(password.result)
