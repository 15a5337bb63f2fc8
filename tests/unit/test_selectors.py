"""dbt node selection syntax, as the run input checks it: what dbt documents is accepted, anything that
could reach dbt as an option (a token starting with '-') is refused, naming the token."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.platform.errors import InvalidInput
from chalicelib.run.run_input import parse_run_input
from chalicelib.run.selectors import METHODS, InvalidSelection, validate_selection

# Examples from dbt's docs: "Syntax overview", "Node selector methods", "Graph operators", "Set operators".
DBT_DOCS_SELECTIONS = [
    "my_model",
    "stg_stripe__customers",
    "+snowplow_sessions +fct_orders",
    "my_model+",
    "+my_model",
    "2+my_model+4",
    "1+my_model",
    "my_model+3",
    "@my_model",
    "@my_model+",
    "marts.finance,tag:nightly",
    "+snowplow_sessions,+fct_orders",
    "stg_invoices+,stg_accounts+",
    "tag:nightly",
    "tag:nightly+",
    "source:snowplow+",
    "source:snowplow.events",
    "source:*",
    "path:marts/finance",
    "path:models/staging/github",
    "path:models/staging/github/stg_issues.sql",
    "marts.finance.*",
    "*.folder_name.*",
    "package:*_source",
    "package:snowplow",
    "fqn:some_model",
    "fqn:*",
    "config.materialized:incremental",
    "config.schema:audit",
    "config.cluster_by:geo_country",
    "config.meta.contains_pii:true",
    "test_type:generic",
    "test_type:singular",
    "test_type:unit",
    "test_type:data",
    "test_name:unique",
    "test_name:not_null",
    "state:modified",
    "state:modified+",
    "state:modified.body",
    "state:new",
    "exposure:weekly_kpis+",
    "+exposure:*",
    "metric:weekly_active_users",
    "result:error+",
    "result:fail",
    "source_status:fresher+",
    "group:finance",
    "access:public",
    "version:latest",
    "version:prerelease",
    "semantic_model:orders",
    "saved_query:customer_order_metrics",
    "unit_test:test_is_valid_email_address",
    "resource_type:model",
    "resource_type:snapshot",
    "file:some_model.sql",
    "some_model.sql",
    "model_[abc]",
    "stg_?rders",
    "models/my-folder",
    "tag:nightly tag:hourly,config.materialized:table",
]

REFUSED = [
    ("stg_stripe__customers --empty", "'--empty' starts with '-'"),
    ("--full-refresh", "starts with '-'"),
    ("my_model --target prod", "'--target' starts with '-'"),
    ("-s my_model", "'-s' starts with '-'"),
    ("my_model,-x", "'-x' is not a selector value"),
    ("nosuchmethod:x", "'nosuchmethod' is not a dbt selector method"),
    ("config:view", "names a config key"),
    ("tag.x:nightly", "only the config method takes a '.key'"),
    ("tag:", "has no value"),
    ("a,,b", "empty part"),
    ("@+my_model", "'@' and a '+' before"),
    ("my_model;rm", "is not a selector value"),
    ("my_model$(id)", "is not a selector value"),
    ("'my_model'", "is not a selector value"),
    ("--vars={a:1}", "starts with '-'"),
    ("a+b", "is not a selector value"),
]


@pytest.mark.parametrize("selection", DBT_DOCS_SELECTIONS)
def test_every_selection_from_dbts_docs_is_accepted(selection: str) -> None:
    assert validate_selection(selection) == selection.split()


@pytest.mark.parametrize("method", METHODS)
def test_every_dbt_method_is_accepted(method: str) -> None:
    selector = f"{method}.materialized:x" if method == "config" else f"{method}:x"
    assert validate_selection(selector) == [selector]


@pytest.mark.parametrize(("selection", "why"), REFUSED)
def test_anything_else_is_refused_naming_the_token(selection: str, why: str) -> None:
    with pytest.raises(InvalidSelection) as refused:
        validate_selection(selection)
    assert why in str(refused.value)


_NAME = st.text(st.sampled_from("abcxyz_0123456789.:+*-=/ '\"$;,@"), min_size=0, max_size=20)


@given(before=st.lists(st.sampled_from(DBT_DOCS_SELECTIONS), max_size=3), dashed=_NAME, after=_NAME)
def test_any_token_starting_with_a_dash_is_refused(before: list[str], dashed: str, after: str) -> None:
    selection = " ".join([*before, "-" + dashed.replace(" ", ""), after])
    with pytest.raises(InvalidSelection):
        validate_selection(selection)


@given(selection=st.lists(st.sampled_from(DBT_DOCS_SELECTIONS), min_size=1, max_size=6))
def test_any_union_of_valid_selectors_is_accepted(selection: list[str]) -> None:
    assert validate_selection("  ".join(selection)) == " ".join(selection).split()


@pytest.mark.parametrize("field", ["select", "exclude"])
def test_the_run_input_refuses_a_flag_in_a_selection_naming_the_field(field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_run_input({"group_id": "g", "dbt": {"command": "run", field: "stg_stripe__customers --empty"}})
    message = str(refused.value)
    assert f"'dbt.{field}' is not a dbt node selection" in message
    assert "'--empty'" in message


def test_the_run_input_keeps_a_selection_with_its_selectors_joined_by_one_space() -> None:
    options = parse_run_input(
        {"group_id": "g", "dbt": {"select": " tag:a \n  source:b+ ", "exclude": "\tx "}}
    )
    assert (options.dbt.select, options.dbt.exclude) == ("tag:a source:b+", "x")
