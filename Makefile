# The two entry points named in the README:
#   make run    set up this host, run the default sweep, analyse it (results/ and report/)
#   make test   set up this host and run every check and test
VENV      := .venv
PY        := $(VENV)/bin/python
PYTEST    := $(VENV)/bin/pytest
RESULTS   ?= results
REPORT    ?= report
SWEEP_ARGS ?= -e duration=10
# The default sweep's latency pass: round trips measured well below saturation, where
# they show the switch rather than the queues of an overloaded path.
LATENCY_ARGS ?= -e labs=labs/latency-1vs1.yml -e rates=10000
# 10 s tests: drop 2 s at each end instead of the default 5 s.
ANALYZE_ARGS ?= --warmup 2 --cooldown 2

.PHONY: setup native run test lint clean

setup:
	bash scripts/setup.sh

native:
	$(MAKE) -C native

run: setup native
	$(VENV)/bin/ansible-playbook testset.yml -e results_dir=$(CURDIR)/$(RESULTS) $(SWEEP_ARGS)
	$(VENV)/bin/ansible-playbook testset.yml -e results_dir=$(CURDIR)/$(RESULTS) $(SWEEP_ARGS) \
	  -e provision=false $(LATENCY_ARGS)
	$(VENV)/bin/icperf-analyze $(RESULTS) --out $(REPORT) $(ANALYZE_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/yamllint -s .
	$(VENV)/bin/ansible-lint --profile production
	for p in *.yml playbooks/*.yml; do \
	  grep -q 'import_playbook\|hosts:' $$p || continue; \
	  $(VENV)/bin/ansible-playbook --syntax-check $$p >/dev/null || exit 1; done

test: setup native lint
	$(PYTEST) -q

clean:
	$(MAKE) -C native clean

# System tier (docs/guests.md): QEMU guest hosts provisioned by the collection over SSH.
#   make system-test   build or reuse the guest image, boot guests, run tests/guests/
#   make guest         boot GUESTS guests and wait (^C tears them down); inventory printed
GUESTS ?= 1
.PHONY: guest-deps system-test guest

guest-deps:
	bash scripts/guest-deps.sh

system-test: setup guest-deps
	ICPERF_SYSTEM_TESTS=1 $(PYTEST) -v --durations=0 -m system tests/guests

guest: setup guest-deps
	$(PY) tests/guests/harness.py up -n $(GUESTS)
