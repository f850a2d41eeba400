# Two commands: `make up STACK=minikube` (install, then deploy) and `make test`.
STACK ?= minikube
VENV  := .venv
PY    := $(VENV)/bin/python

.PHONY: install up preview review destroy test e2e bench clean

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

up: install            ## create the stack if needed and run `pulumi up`
	scripts/up.sh $(STACK) up

preview: install       ## show what `pulumi up` would change (with the ICC policy pack)
	scripts/up.sh $(STACK) preview

review: install        ## a Markdown report of the preview for a merge request (path printed)
	scripts/up.sh $(STACK) review

destroy:               ## remove the deployment; data claims stay unless keepDataOnDestroy=false
	scripts/up.sh $(STACK) destroy

test: install          ## unit, schema and script tests (no cluster, no Pulumi CLI)
	$(PY) -m pytest -m "not e2e"

e2e: install           ## real Pulumi engine against a local control plane (builds tools once)
	scripts/e2e.sh

bench: install         ## seconds of pulumi preview/up against kubectl apply, on a local cluster
	scripts/e2e-tools.sh >/dev/null
	$(PY) scripts/bench.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
