"""A small dbt project that lives outside the repository, as a user's would: two sources (``crm``
matched to its Fivetran connection by schema, ``billing`` by ``meta.fivetran_connection`` too), three models,
no profiles.yml (the orchestrator generates one). Its SQL runs on DuckDB and Postgres alike. ``stage`` builds
the task's project folder from it with dbt_container/stage_project.py, as the image build does."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.dbt.support import REPO

STAGE_SCRIPT = REPO / "dbt_container" / "stage_project.py"
PROFILE = "analytics"
MODELS = ("stg_crm__records", "stg_billing__records", "customer_activity")
# Fivetran's generic table, as local/warehouse lands it for a service nobody modelled.
SOURCE_COLUMNS = "id bigint, payload varchar, _fivetran_synced timestamp"

FILES = {
    "dbt_project.yml": f"""\
name: analytics
version: "1.0.0"
profile: {PROFILE}
model-paths: ["models"]
models:
  analytics:
    +materialized: table
""",
    "models/sources.yml": """\
version: 2
sources:
  - name: crm                 # matched to its connection by schema (the source's name)
    tables:
      - name: records
  - name: billing
    meta:
      fivetran_connection: billing_conn   # matched to its connection by id, explicitly
    tables:
      - name: records
""",
    "models/stg_crm__records.sql": "select id, payload from {{ source('crm', 'records') }}\n",
    "models/stg_billing__records.sql": "select id, payload from {{ source('billing', 'records') }}\n",
    "models/customer_activity.sql": """\
select c.id, count(b.id) as invoices
from {{ ref('stg_crm__records') }} as c
left join {{ ref('stg_billing__records') }} as b on b.id = c.id
group by c.id
""",
}


def write_project(root: Path) -> Path:
    """The project's files under ``root`` (created); returns root."""
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def stage(dbt_python: Path, source: Path, dest: Path) -> subprocess.CompletedProcess[str]:
    """Run the image build's staging step: ``python stage_project.py SOURCE DEST`` with dbt's interpreter."""
    return subprocess.run(
        [str(dbt_python), str(STAGE_SCRIPT), str(source), str(dest)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
