"""The price table: from a mapping or a JSON file, checked entry by entry, O(1) lookups."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from otel_agents._errors import ConfigurationError
from otel_agents.genai import DEFAULT_PRICES, DEFAULT_PRICES_DATE, ModelPrice, PriceTable
from otel_agents.genai._prices import PRICES_ENV, get_price_table, load_price_table_from_env


def test_cost_is_tokens_times_price_per_million() -> None:
    table = PriceTable.from_mapping({"m": {"input": 3, "output": 15}})
    price = table.price("m")
    assert price == ModelPrice(3.0, 15.0)
    assert price.cost(2_000, 1_000) == pytest.approx(0.006 + 0.015)
    assert table.price("unknown") is None


def test_a_price_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"local": {"input": 0, "output": 0.5}}), encoding="utf-8")
    table = PriceTable.from_file(path)
    assert table.price("local") == ModelPrice(0.0, 0.5)
    assert len(table) == 1


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        ({"gpt-x": {"input": -1, "output": 2}}, r"model 'gpt-x': field 'input' = -1"),
        ({"gpt-x": {"input": 1, "output": "2"}}, r"model 'gpt-x': field 'output' = '2'"),
        ({"gpt-x": {"input": 1, "output": float("nan")}}, r"model 'gpt-x': field 'output'"),
        ({"gpt-x": {"input": True, "output": 1}}, r"model 'gpt-x': field 'input' = True"),
        ({"gpt-x": {"input": 1}}, r"model 'gpt-x': field 'output' is missing"),
        (
            {"gpt-x": {"input": 1, "output": 1, "cached": 1}},
            r"model 'gpt-x': unknown field 'cached'",
        ),
        ({"gpt-x": [1, 2]}, r"model 'gpt-x': expected"),
        ({"": {"input": 1, "output": 1}}, r"model name '' is not"),
        ([1, 2], r"expected a mapping"),
    ],
)
def test_a_bad_entry_names_the_model_and_field(prices: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        PriceTable.from_mapping(prices)


def test_a_bad_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigurationError, match=r"nope\.json"):
        PriceTable.from_file(missing)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"broken.json is not valid JSON"):
        PriceTable.from_file(broken)
    bad = tmp_path / "bad.json"
    bad.write_text('{"m": {"input": -2, "output": 1}}', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"bad.json: model 'm': field 'input'"):
        PriceTable.from_file(bad)


def test_the_default_table_is_dated_and_prices_well_known_models() -> None:
    assert DEFAULT_PRICES_DATE == "2025-06-01"
    assert DEFAULT_PRICES.price("gpt-4o") == ModelPrice(2.5, 10.0)
    assert "gpt-4o-mini" in DEFAULT_PRICES


def test_a_deeply_nested_file_is_a_configuration_error_not_a_recursion_error(
    tmp_path: Path,
) -> None:
    """200 KB of brackets (under the 1 MiB cap) overflows the JSON parser's recursion."""
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"nested\.json is not valid JSON: nested too"):
        PriceTable.from_file(nested)


def test_any_parse_failure_is_a_configuration_error_saying_what_to_do(tmp_path: Path) -> None:
    """Python refuses integers of more than 4300 digits with a plain ValueError."""
    huge = tmp_path / "huge.json"
    huge.write_text('{"m": {"input": 1' + "0" * 5000 + ', "output": 1}}', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"huge\.json is not valid JSON \(ValueError") as e:
        PriceTable.from_file(huge)
    assert "fix the file" in str(e.value)


def test_a_deep_or_long_bad_value_is_shortened_in_the_message(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text('{"m": {"input": ' + "[" * 500 + "]" * 500 + ', "output": 1}}', "utf-8")
    with pytest.raises(ConfigurationError, match=r"deep\.json: model 'm': field 'input'") as e:
        PriceTable.from_file(deep)
    assert len(str(e.value)) < 500
    long = tmp_path / "long.json"
    long.write_text(json.dumps({"m": "x" * 100_000}), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"long\.json: model 'm': expected") as e:
        PriceTable.from_file(long)
    assert len(str(e.value)) < 500


def test_the_variable_is_named_when_its_file_is_bad(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    monkeypatch.setenv(PRICES_ENV, str(nested))
    previous = get_price_table()
    with pytest.raises(ConfigurationError) as e:
        load_price_table_from_env()
    message = str(e.value)
    assert message.startswith(f"{PRICES_ENV}={str(nested)!r}: price file {nested}")
    assert f"unset {PRICES_ENV}" in message
    assert get_price_table() is previous
