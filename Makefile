# Two commands on a fresh machine: `make up STACK=minikube` (installs, creates the stack, deploys)
# and `make test`. Each target runs what you would type with the Pulumi CLI on the same stack and
# the same files (README "Quick starts"); make adds the passphrase file, the checks before a run
# and the policy pack flag, nothing else. Extra pulumi flags: ARGS='--yes --skip-preview'.
STACK ?= minikube
VENV  := .venv
PY    := $(VENV)/bin/python
PULUMI ?= pulumi
# The ICC rules (policy/); the real-engine tests name an executable analyzer instead.
POLICY_PACK ?= policy
POLICY := --policy-pack $(POLICY_PACK)

# Stack secrets are encrypted with a passphrase: yours when PULUMI_CONFIG_PASSPHRASE or
# PULUMI_CONFIG_PASSPHRASE_FILE is set, else one made once in ~/.icc-ollama/passphrase (back it up:
# without it the stack's secrets cannot be decrypted).
ifeq ($(PULUMI_CONFIG_PASSPHRASE)$(PULUMI_CONFIG_PASSPHRASE_FILE),)
export PULUMI_CONFIG_PASSPHRASE_FILE := $(HOME)/.icc-ollama/passphrase
endif
export PULUMI_SKIP_UPDATE_CHECK ?= true

.PHONY: install cli stack up preview review destroy test test-slow checkov checkov-venv e2e bench clean

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

cli:
	@command -v $(PULUMI) >/dev/null || { echo "The Pulumi CLI is missing: install it with" \
	  "\`curl -fsSL https://get.pulumi.com | sh\`, open a new shell and run this again." >&2; exit 1; }
	@$(PY) scripts/stack_files.py $(STACK)

stack: install cli     ## the passphrase file once, then `pulumi stack select --create`
	@if [ -n "$$PULUMI_CONFIG_PASSPHRASE_FILE" ] && [ ! -f "$$PULUMI_CONFIG_PASSPHRASE_FILE" ]; then \
	  mkdir -p "$$(dirname "$$PULUMI_CONFIG_PASSPHRASE_FILE")" && \
	  (umask 077 && $(PY) -c 'import secrets; print(secrets.token_urlsafe(32))' \
	    > "$$PULUMI_CONFIG_PASSPHRASE_FILE") && \
	  echo "Created the stack passphrase in $$PULUMI_CONFIG_PASSPHRASE_FILE (back it up)."; fi
	$(PULUMI) stack select --create $(STACK) --secrets-provider passphrase

up: stack              ## deploy: shows the preview and asks before it changes anything
	$(PY) scripts/recover.py $(STACK) up
	$(PY) scripts/docker_preflight.py $(STACK)
	$(PULUMI) up --stack $(STACK) $(POLICY) $(ARGS)

# The stack must exist: `make up` makes it (and previews before it asks), a preview writes nothing.
existing = @$(PULUMI) stack --stack $(STACK) --show-name >/dev/null 2>&1 || { echo "No stack" \
  "$(STACK) yet: \`make up STACK=$(STACK)\` creates it, shows the preview and asks before it" \
  "changes anything." >&2; exit 1; }

preview: install cli   ## what `up` would change, with the policy pack; writes nothing
	$(existing)
	$(PY) scripts/recover.py $(STACK) preview
	$(PY) scripts/docker_preflight.py $(STACK)
	$(PULUMI) preview --stack $(STACK) --diff $(POLICY) $(ARGS)

review: install cli    ## a Markdown report of the preview for a merge request (path printed)
	$(existing)
	$(PY) scripts/review.py $(STACK) $(POLICY)

destroy: install cli   ## remove the deployment; data claims and volumes stay (keepDataOnDestroy)
	$(existing)
	$(PY) scripts/recover.py $(STACK) destroy
	$(PULUMI) destroy --stack $(STACK) $(ARGS)

test: install          ## lint, types, then the fast tests (no cluster, no Pulumi CLI): ~30 s
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -m "not e2e and not slow" --durations=10

test-slow: install checkov-venv  ## property runs over many stacks, make with a recorder, checkov (CI)
	CHECKOV=$(CHECKOV) $(PY) -m pytest -m "slow and not e2e" --durations=10

# checkov in a venv of its own: its dependencies are not the program's.
CHECKOV := .venv-checkov/bin/checkov
$(CHECKOV): requirements-checkov.txt
	python3 -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

checkov-venv: $(CHECKOV)

checkov: install checkov-venv  ## checkov's Kubernetes checks on the rendered icc and minikube stacks
	CHECKOV=$(CHECKOV) $(PY) -m pytest -m slow tests/test_checkov.py -rP

e2e: install           ## real Pulumi engine against a local control plane (builds tools once)
	scripts/e2e.sh

bench: install         ## seconds of pulumi preview/up against kubectl apply, on a local cluster
	scripts/e2e-tools.sh >/dev/null
	$(PY) scripts/bench.py

clean:
	rm -rf $(VENV) .venv-checkov .pytest_cache .hypothesis
