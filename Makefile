# Every command a person or CI runs. `make test` and `make demo` install first when needed.
PYTHON ?= python3
VENV := .venv
DBT_VENV := .venv-dbt
# dbt with the Postgres adapter, from requirements-postgres.lock: the entrypoint's tests against a real server.
DBT_PG_VENV := .venv-dbt-postgres
# The image's warehouse adapter (snowflake, bigquery, redshift, databricks, postgres, duckdb) and dbt project.
DBT_ADAPTER ?= snowflake
DBT_PROJECT ?= dbt_container/project
IMAGE ?= fivetran-orchestrator-dbt:$(DBT_ADAPTER)
DBT_PLATFORM ?= linux/amd64
ADAPTERS := snowflake bigquery redshift databricks postgres duckdb
TOOLS_VENV := .venv-tools
BIN := $(VENV)/bin
STAGE ?= dev
PORT ?= 8000
MOTO_PORT ?= 5055
# The local runtime's IAM evaluator (local/iam): @cloud-copilot/iam-simulate, pinned by its package-lock.json.
IAM_NODE := local/iam/node_modules

.PHONY: install test check lint scan demo webhook deploy destroy bench clean lock image

install: $(VENV)/.installed $(DBT_VENV)/.installed $(DBT_PG_VENV)/.installed $(TOOLS_VENV)/.installed $(IAM_NODE)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip<26.3"
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# The dbt image's packages, exactly as the image installs them: from the hashed lock.
$(DBT_VENV)/.installed: dbt_container/requirements.lock
	$(PYTHON) -m venv $(DBT_VENV)
	$(DBT_VENV)/bin/pip install --quiet --upgrade "pip<26.3"
	$(DBT_VENV)/bin/pip install --quiet --require-hashes --no-deps -r dbt_container/requirements.lock
	touch $@

$(DBT_PG_VENV)/.installed: dbt_container/requirements-postgres.lock
	$(PYTHON) -m venv $(DBT_PG_VENV)
	$(DBT_PG_VENV)/bin/pip install --quiet --upgrade "pip<26.3"
	$(DBT_PG_VENV)/bin/pip install --quiet --require-hashes --no-deps -r dbt_container/requirements-postgres.lock
	touch $@

$(TOOLS_VENV)/.installed: requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install --quiet --upgrade "pip<26.3"
	$(TOOLS_VENV)/bin/pip install --quiet -r requirements-tools.txt
	touch $@

# Node 20+ and npm: `npm ci` installs exactly what local/iam/package-lock.json pins.
$(IAM_NODE)/.installed: local/iam/package.json local/iam/package-lock.json
	npm ci --prefix local/iam --no-audit --no-fund --silent
	touch $@

# Regenerate the dbt locks: dbt_container/requirements.lock (.venv-dbt: Snowflake and DuckDB, what the tests
# and the local runtime use) and one requirements-<adapter>.lock per warehouse adapter (what `make image`
# installs). Each holds every transitive package, with the hashes of all its files on PyPI, resolved for
# every platform (x86_64 and aarch64 images alike).
LOCK_COMPILE = ../$(TOOLS_VENV)/bin/uv pip compile --universal --generate-hashes --python-version 3.11 \
	--only-binary :all: --custom-compile-command "make lock" --quiet

lock: $(TOOLS_VENV)/.installed
	cd dbt_container && $(LOCK_COMPILE) requirements.txt -o requirements.lock
	cd dbt_container && for adapter in $(ADAPTERS); do \
		$(LOCK_COMPILE) requirements-$$adapter.txt -o requirements-$$adapter.lock || exit 1; done

# The dbt image for one warehouse, with your dbt project: make image DBT_ADAPTER=postgres DBT_PROJECT=../analytics
# (docs/your-dbt-project.md). The project reaches the build as the named context dbt_project.
image:
	docker buildx build --load --platform $(DBT_PLATFORM) --build-arg DBT_ADAPTER=$(DBT_ADAPTER) \
		--build-context dbt_project=$(DBT_PROJECT) -t $(IMAGE) dbt_container

# The static checks, each its own target so that `make -j` runs them side by side (`make lint` and
# `make test` do); none writes what another reads.
LINT_STEPS := lint-ruff lint-format lint-mypy lint-mypy-tools lint-cfn lint-checkov lint-asl
STATIC_JOBS ?= 4
.PHONY: $(LINT_STEPS)

lint: install
	$(MAKE) --no-print-directory -j$(STATIC_JOBS) --output-sync=target $(LINT_STEPS)

lint-ruff:
	$(BIN)/ruff check .
lint-format:
	$(BIN)/ruff format --check .
lint-mypy:
	$(BIN)/mypy
# ops/, deploy/, local/: not strict, but clean (mypy-tools.ini).
lint-mypy-tools:
	$(BIN)/mypy --config-file mypy-tools.ini
lint-cfn:
	$(BIN)/cfn-lint infra/template.yaml
lint-checkov:
	$(TOOLS_VENV)/bin/checkov -f infra/template.yaml --quiet --compact --framework cloudformation --skip-download
lint-asl:
	$(BIN)/python -m statemachine.validate statemachine/orchestrator.asl.json

# CI cannot reach the vulnerability database: the scan then prints "pip-audit: NOT AUDITED: ..." and
# goes on. `make test ALLOW_UNAUDITED=0` makes an unaudited pin a failure.
ALLOW_UNAUDITED ?= 1

scan:
	TOOLS=$(TOOLS_VENV)/bin ALLOW_UNAUDITED=$(ALLOW_UNAUDITED) bash scripts/security_scan.sh

# Every test, side by side: pytest-xdist with 4 workers (PYTEST_WORKERS=auto for one per core). Most
# e2e scenarios wait on real clocks rather than compute, so 4 workers keep 2 cores busy (measured on 2
# cores: pytest 6 min 32 s with 4 idle, README's Tests paragraph). Tests that share an expensive fixture stay
# on one worker (--dist loadgroup, tests/conftest.py). Hypothesis runs its `ci` profile
# (HYPOTHESIS_PROFILE=thorough for the full sizes: tests/hypothesis_profiles.py).
PYTEST_WORKERS ?= 4
PYTEST_ARGS ?=
# The suite's processes keep their bytecode (the gitignored __pycache__), even where the environment
# sets PYTHONDONTWRITEBYTECODE: otherwise every worker rewrites every test module's asserts again, and
# every Python process a test starts (serve, the CLI, dbt's stand-in) compiles this repository's
# modules again (measured: collecting make check's tests 5.2 s -> 2.3 s of CPU per worker).
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest

# CI's command (.ci/run) and the README's: lint and the security scan side by side, then every test.
test: install
	$(MAKE) --no-print-directory -j$(STATIC_JOBS) --output-sync=target $(LINT_STEPS) scan
	$(PYTEST) -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The inner loop while working (about a minute): ruff and mypy, then the unit and functional tests
# most changes touch (the `check` marker, tests/conftest.py). `make test` stays what CI runs. Only the
# folders that hold `check` tests are collected (importing the others costs each worker seconds).
CHECK_PATHS ?= tests/unit tests/functional
# Most of the inner loop's tests wait on moto's threads rather than compute: 4 workers keep 2 cores busy
# (measured: 77 s with 2, 66 s with 4, on 2 idle cores).
CHECK_WORKERS ?= 4

check: install
	$(MAKE) --no-print-directory -j$(STATIC_JOBS) --output-sync=target lint-ruff lint-format lint-mypy
	$(PYTEST) -n $(CHECK_WORKERS) --dist loadgroup -m check -q $(CHECK_PATHS) $(PYTEST_ARGS)

demo: install
	$(BIN)/python -m local demo

# exec: make's child is the server itself, so SIGTERM to make (which make forwards) stops everything.
webhook: install
	exec $(BIN)/python -m local webhook --port $(PORT) --moto-port $(MOTO_PORT)

# ARGS: more options for `python -m deploy` (deploy/), e.g. ARGS="--parameter DbtImageTag=2f1c9ab" or ARGS=--yes.
deploy: install
	$(BIN)/python -m deploy deploy --stage $(STAGE) $(ARGS)

destroy: install
	$(BIN)/python -m deploy destroy --stage $(STAGE) $(ARGS)

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(DBT_VENV) $(DBT_PG_VENV) $(TOOLS_VENV) $(IAM_NODE) .venv-bench .pytest_cache .ruff_cache .mypy_cache build
