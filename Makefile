# Two commands: `make up STACK=minikube` (install, then deploy) and `make test`.
STACK ?= minikube
VENV  := .venv
PY    := $(VENV)/bin/python

.PHONY: install up preview review destroy config config-get config-set config-rm output
.PHONY: test test-slow checkov checkov-venv e2e bench clean

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

up: install            ## create the stack if needed and run `pulumi up`
	scripts/up.sh $(STACK) up

preview: install       ## show what `pulumi up` would change, with the ICC policy pack; changes nothing
	scripts/up.sh $(STACK) preview

review: install        ## a Markdown report of the preview for a merge request (path printed)
	scripts/up.sh $(STACK) review

destroy: install       ## remove the deployment; data claims stay unless keepDataOnDestroy=false
	scripts/up.sh $(STACK) destroy

# Your own settings live in ~/.icc-ollama/stacks/<stack>.yaml, over the shared Pulumi.<stack>.yaml.
# Keys are paths (monitoring.enabled); SECRET=1 without VALUE prompts and stores it encrypted.
config: install        ## the stack's settings (shared defaults with your values on top)
	scripts/up.sh $(STACK) config

config-get: install    ## one setting, secrets in clear: make config-get KEY=grafanaAdminPassword
	scripts/up.sh $(STACK) config-get '$(call required,KEY)'

config-set: install    ## your value: make config-set KEY=namespace VALUE=wxyz123-default [SECRET=1]
	scripts/up.sh $(STACK) config-set $(if $(SECRET),--secret) '$(call required,KEY)' \
	  $(if $(VALUE),'$(VALUE)')

config-rm: install     ## drop your value, back to the shared default: make config-rm KEY=…
	scripts/up.sh $(STACK) config-rm '$(call required,KEY)'

output: install        ## stack outputs, e.g. make output STACK=icc NAME=nextSteps
	scripts/up.sh $(STACK) output $(NAME)

required = $(if $($(1)),$($(1)),$(error $(1)=… is required, e.g. make $@ STACK=$(STACK) $(1)=…))

test: install          ## lint, types, then the fast tests (no cluster, no Pulumi CLI): ~30 s
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -m "not e2e and not slow" --durations=10

test-slow: install checkov-venv  ## property runs, script tests with a fake CLI, checkov (CI)
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
