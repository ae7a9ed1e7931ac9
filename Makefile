# Paydesk: `make demo` sets up and runs the app with demo data; `make test` runs the tests.
#
# Everything lives in ./.venv (created with python3.11, or python3 when that is 3.11 or newer).
# Dependencies are installed again only when pyproject.toml changes (stamp: .venv/.installed).
# The demo keeps its database and secret key in ./instance/, so a second `make demo` keeps the
# data; delete instance/ to start afresh.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

HOST ?= 127.0.0.1
PORT ?= 5000
PAYDESK_DATABASE_URL ?= sqlite:///instance/paydesk.db
PAYDESK_BASE_URL ?= http://$(HOST):$(PORT)
# The demo's fake Stripe (localstripe, a GPL dev/demo dependency) and its webhook secret.
STRIPE_PORT ?= 8420
STRIPE_BASE := http://127.0.0.1:$(STRIPE_PORT)
DEMO_WEBHOOK_SECRET := whsec_paydesk_demo_webhooks
PYTEST_ARGS ?=

.PHONY: help demo install test lint clean

help:
	@echo "make demo     set up .venv and instance/, migrate, seed demo data, serve http://$(HOST):$(PORT)"
	@echo "              (another port: make demo PORT=5077)"
	@echo "make install  create .venv and install Paydesk with its dev tools"
	@echo "make test     run the tests (make test PYTEST_ARGS='-k seed -x')"
	@echo "make lint     ruff and the import-linter layer contracts"
	@echo "make clean    remove .venv and caches (keeps instance/, the demo's database and key)"

# The virtualenv. Python 3.11 is what Paydesk is built and tested with; a newer python3 works.
$(BIN)/python:
	@for candidate in $${PYTHON:-} python3.11 python3; do \
	  if command -v "$$candidate" >/dev/null 2>&1 && \
	     "$$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then \
	    echo "Creating $(VENV) with $$("$$candidate" --version)"; \
	    exec "$$candidate" -m venv $(VENV); \
	  fi; \
	done; \
	echo "Paydesk needs Python 3.11 or newer: install python3.11 (or run make PYTHON=...)." >&2; \
	exit 1

$(STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing Paydesk and its dependencies into $(VENV) (the first time takes a minute)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(STAMP)

demo: install
	@mkdir -p instance
	@[ -s instance/secret_key ] || ( umask 077; \
	  $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(48))' > instance/secret_key )
	@[ -s instance/encryption_key ] || ( umask 077; \
	  $(BIN)/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' \
	  > instance/encryption_key )
	@export PAYDESK_SECRET_KEY="$${PAYDESK_SECRET_KEY:-$$(cat instance/secret_key)}" \
	  PAYDESK_ENCRYPTION_KEYS="$${PAYDESK_ENCRYPTION_KEYS:-$$(cat instance/encryption_key)}" \
	  PAYDESK_DATABASE_URL='$(PAYDESK_DATABASE_URL)' PAYDESK_BASE_URL='$(PAYDESK_BASE_URL)' \
	  PAYDESK_STRIPE_API_BASE='$(STRIPE_BASE)' PAYDESK_STRIPE_JS_URL='$(STRIPE_BASE)/js.stripe.com/v3/' \
	  PAYDESK_STRIPE_SECRET_KEY=sk_test_demo PAYDESK_STRIPE_PUBLISHABLE_KEY=pk_test_demo \
	  PAYDESK_STRIPE_WEBHOOK_SECRET='$(DEMO_WEBHOOK_SECRET)'; \
	set -e; \
	$(BIN)/python manage.py migrate; \
	$(BIN)/python manage.py seed; \
	$(BIN)/python -m devtools.localstripe_server --port $(STRIPE_PORT) \
	  --webhook '$(PAYDESK_BASE_URL)/hooks/stripe' --webhook-secret '$(DEMO_WEBHOOK_SECRET)' \
	  --state-file instance/localstripe.pickle & \
	stripe_pid=$$!; \
	trap 'kill $$stripe_pid 2>/dev/null || true' EXIT INT TERM; \
	echo; \
	echo "Paydesk is starting at $(PAYDESK_BASE_URL)  (Ctrl+C stops it)"; \
	echo "  Staff:     admin@paydesk.test / paydesk-admin   at $(PAYDESK_BASE_URL)/admin/login"; \
	echo "  Customers: ada@acme.test / paydesk-demo          at $(PAYDESK_BASE_URL)/login"; \
	echo "             grace@globex.test / paydesk-demo"; \
	echo "  Magic links: no email is sent in the demo; read them in Admin → Email log."; \
	echo "  Cards: a fake Stripe (localstripe) runs at $(STRIPE_BASE). Pay with 4242 4242 4242 4242;"; \
	echo "         4000 0000 0000 0341 is declined, 4000 0025 0000 3155 asks for 3-D Secure."; \
	echo; \
	$(BIN)/gunicorn -b $(HOST):$(PORT) -w 2 --threads 4 wsgi:app

# pytest prints its own closing summary line; a failing run fails make (non-zero exit).
test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .ruff_cache .pytest_cache .hypothesis test-artifacts build *.egg-info
	find . -path ./node_modules -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
	@echo "Kept instance/ (the demo database and secret key); delete it to start the demo afresh."
