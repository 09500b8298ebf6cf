# Everything runs from a virtualenv this Makefile bootstraps; nothing needs installing by hand.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# ansible-test insists on running from .../ansible_collections/<namespace>/<name>/ and refuses symlinks,
# so the checks run in a copy of the tracked tree.
COLLECTION_ROOT := build/ansible_collections/mailsec/cloudflare
PYVER = $(shell $(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
PYTEST_WORKERS ?= 2

.PHONY: help venv collection-copy test sanity units integration simulator-tests demo bench lint clean

help:
	@echo "make demo    release a seeded quarantine end to end against the bundled simulator"
	@echo "make test    everything that must pass: sanity, units, simulator and integration tests"
	@echo "make bench   benchmarks (not part of make test)"

venv: $(VENV)/.installed

$(VENV)/.installed: tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	$(BIN)/python tests/tools/ansible_test_pip_bootstrap.py
	touch $@

collection-copy: venv
	rm -rf $(COLLECTION_ROOT)
	mkdir -p $(COLLECTION_ROOT)
	git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C $(COLLECTION_ROOT)
	# A repository of its own: otherwise ansible-test finds this checkout, where build/ is ignored.
	cd $(COLLECTION_ROOT) && git init -q && git add -A

test: sanity units simulator-tests integration

sanity: collection-copy
	cd $(COLLECTION_ROOT) && $(CURDIR)/$(BIN)/ansible-test sanity --python $(PYVER) --color no

units: collection-copy
	cd $(COLLECTION_ROOT) && $(CURDIR)/$(BIN)/ansible-test units --python $(PYVER) --color no

simulator-tests: collection-copy
	cd $(COLLECTION_ROOT) && $(CURDIR)/$(BIN)/python -m pytest -p no:cacheprovider -q tests/simulator

integration: collection-copy
	cd $(COLLECTION_ROOT) && $(CURDIR)/$(BIN)/python -m pytest -p no:cacheprovider -q -n $(PYTEST_WORKERS) tests/integration

demo: collection-copy
	cd $(COLLECTION_ROOT) && ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/build ANSIBLE_PYTHON_INTERPRETER=$(CURDIR)/$(BIN)/python \
	  ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
	  $(CURDIR)/$(BIN)/python tests/simulator/with_simulator.py --seed tests/simulator/seeds/demo.json -- \
	  $(CURDIR)/$(BIN)/ansible-playbook playbooks/demo.yml

clean:
	rm -rf build $(VENV) tests/output
