# The two quick-start commands are `make run` and `make test`; see README.md.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
ADDR ?= 127.0.0.1:8000
ONLY ?=
# The suite on pytest-xdist: one worker per core, at most 4, a whole test file at a time (a
# file's servers start once). Each worker has its own test database and Redis database
# (tests/conftest.py). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= auto

.PHONY: run test bench faults lint check install

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py load_demo_inboxes
	$(BIN)/python manage.py load_demo_sequences
	$(BIN)/python manage.py devserver $(ADDR)

test: install
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile

bench: install
	$(BIN)/python -m bench $(ONLY)

faults: install
	$(BIN)/python -m faults $(ONLY)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check: install
	DJANGO_ENV=production DJANGO_SECRET_KEY=check-only-$$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') \
	DJANGO_ALLOWED_HOSTS=crm.example.com CRM_ENCRYPTION_KEYS=$$($(BIN)/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	$(BIN)/python manage.py check --deploy --fail-level WARNING
