"""Model prices: US dollars per million input and output tokens, looked up per call in O(1).

A :class:`PriceTable` maps a model name (``gen_ai.request.model``, exactly as the call names
it) to its two prices. The cost of a call is
``input_tokens * input / 1e6 + output_tokens * output / 1e6``. A model the table does not
know costs nothing and is counted in ``agent.model.unpriced``, so a missing price shows up on
the dashboard instead of as a silently low bill.

The table in force is :data:`DEFAULT_PRICES` until :func:`set_price_table` replaces it, or
``configure()`` reads the JSON file named by ``OTEL_AGENTS_GENAI_PRICES``::

    {"gpt-4o": {"input": 2.5, "output": 10.0}, "my-local-model": {"input": 0, "output": 0}}

Prices change: the defaults are list prices on :data:`DEFAULT_PRICES_DATE` and only a
starting point. Supply your own table for real budgets.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from otel_agents._bounded_read import TooLarge, read_file_capped
from otel_agents._errors import ConfigurationError, short_repr
from otel_agents._numbers import is_real

__all__ = [
    "DEFAULT_PRICES",
    "DEFAULT_PRICES_DATE",
    "PRICES_ENV",
    "ModelPrice",
    "PriceTable",
    "get_price_table",
    "load_price_table_from_env",
    "set_price_table",
]

#: The environment variable naming a JSON price file; ``configure()`` reads it.
PRICES_ENV = "OTEL_AGENTS_GENAI_PRICES"
#: The day the default prices were copied from the providers' public price lists.
DEFAULT_PRICES_DATE = "2025-06-01"
#: Largest price file read (a price table is a few kilobytes; anything bigger is a mistake).
_MAX_FILE_BYTES = 1 << 20
_FIELDS = ("input", "output")
#: What to do about a price file that is not a price table.
_FIX = (
    'expected one JSON object {"<model>": {"input": <USD per 1M tokens>, "output": <USD per '
    "1M tokens>}}: fix the file"
)


class ModelPrice(NamedTuple):
    """US dollars per one million input tokens and per one million output tokens."""

    input: float
    output: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """The cost in US dollars of a call with these token counts."""
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


class PriceTable:
    """Prices per model; :meth:`price` is one dict lookup.

    Build it with :meth:`from_mapping` or :meth:`from_file`; both check every entry and raise
    :class:`~otel_agents.ConfigurationError` naming the model and the field that is wrong.
    """

    __slots__ = ("_prices",)

    def __init__(
        self,
        prices: Mapping[str, ModelPrice | Mapping[str, Any]] | None = None,
        *,
        source: str = "PriceTable(prices)",
    ) -> None:
        self._prices: dict[str, ModelPrice] = _checked_table(
            {} if prices is None else prices, source
        )

    @classmethod
    def from_mapping(cls, prices: Mapping[str, Any], *, source: str = "prices") -> PriceTable:
        """A table from ``{"model": {"input": usd_per_million, "output": usd_per_million}}``.

        Args:
            prices: model name to its two prices (non-negative finite numbers).
            source: where the mapping came from, for error messages (a file path).

        Raises:
            ConfigurationError: not a mapping, an empty model name, a missing or unknown
                field, or a price that is not a non-negative finite number.
        """
        return cls(prices, source=source)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> PriceTable:
        """A table from a JSON file holding the mapping :meth:`from_mapping` takes.

        Raises:
            ConfigurationError: the file cannot be read, is larger than 1 MiB, cannot be
                parsed as JSON (nesting too deep to parse included), or has a bad entry (the
                message names the file, the model and field, and what to do).
        """
        file = Path(path)
        where = f"price file {file}"
        try:
            raw = read_file_capped(file, _MAX_FILE_BYTES)
        except OSError as exc:
            raise ConfigurationError(f"{where} cannot be read: {exc}") from exc
        except TooLarge:
            raise ConfigurationError(
                f"{where} is larger than {_MAX_FILE_BYTES} bytes; {_FIX} (a price table is a "
                "few kilobytes)"
            ) from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except RecursionError as exc:  # "[[[[...": the parser's nesting, not a price table
            raise ConfigurationError(
                f"{where} is not valid JSON: nested too deeply to parse; {_FIX}"
            ) from exc
        except Exception as exc:  # a decode error, an integer too long to convert ...
            reason = f"{type(exc).__name__}: {str(exc)[:200]}"
            raise ConfigurationError(f"{where} is not valid JSON ({reason}); {_FIX}") from exc
        try:
            return cls.from_mapping(data, source=where)
        except RecursionError as exc:  # defensive: the checks below print values shortened
            raise ConfigurationError(f"{where}: an entry is nested too deeply; {_FIX}") from exc

    def price(self, model: str) -> ModelPrice | None:
        """The prices of ``model``, or ``None`` when the table does not know it."""
        return self._prices.get(model)

    def __contains__(self, model: object) -> bool:
        return model in self._prices

    def __len__(self) -> int:
        return len(self._prices)

    def __repr__(self) -> str:
        return f"PriceTable({len(self._prices)} models)"


def _checked_table(prices: Any, source: str) -> dict[str, ModelPrice]:
    """Every entry of ``prices`` checked (raises ``ConfigurationError`` naming the first bad
    model and field)."""
    if not isinstance(prices, Mapping):
        raise ConfigurationError(
            f"{source}: expected a mapping of model name to "
            f'{{"input": <USD per 1M tokens>, "output": <USD per 1M tokens>}}, '
            f"got {type(prices).__name__}"
        )
    table: dict[str, ModelPrice] = {}
    for model, entry in prices.items():
        if not isinstance(model, str) or not model:
            raise ConfigurationError(
                f"{source}: model name {short_repr(model)} is not a non-empty string"
            )
        table[model] = _entry(source, model, entry)
    return table


def _entry(source: str, model: str, entry: Any) -> ModelPrice:
    where = f"{source}: model {short_repr(model)}"
    if isinstance(entry, ModelPrice):
        entry = entry._asdict()
    if not isinstance(entry, Mapping):
        raise ConfigurationError(
            f'{where}: expected {{"input": <USD per 1M tokens>, "output": <USD per 1M '
            f"tokens>}}, got {short_repr(entry)}"
        )
    unknown = sorted(str(key) for key in entry if key not in _FIELDS)
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown field {short_repr(unknown[0])} (fields: input, output)"
        )
    values: list[float] = []
    for field in _FIELDS:
        if field not in entry:
            raise ConfigurationError(f"{where}: field {field!r} is missing (USD per 1M tokens)")
        value = entry[field]
        if not is_real(value) or value < 0:
            raise ConfigurationError(
                f"{where}: field {field!r} = {short_repr(value)} is not valid: expected a "
                "non-negative number of US dollars per million tokens"
            )
        values.append(float(value))
    return ModelPrice(values[0], values[1])


#: List prices (USD per million tokens) on :data:`DEFAULT_PRICES_DATE`. Prices change and
#: differ by contract, region and batch/cached discounts: use your own table for budgets.
DEFAULT_PRICES = PriceTable.from_mapping(
    {
        "gpt-4o": {"input": 2.5, "output": 10.0},
        "gpt-4o-mini": {"input": 0.15, "output": 0.6},
        "gpt-4.1": {"input": 2.0, "output": 8.0},
        "gpt-4.1-mini": {"input": 0.4, "output": 1.6},
        "claude-sonnet-4-0": {"input": 3.0, "output": 15.0},
        "claude-3-5-haiku-latest": {"input": 0.8, "output": 4.0},
    },
    source="DEFAULT_PRICES",
)

_table: PriceTable = DEFAULT_PRICES


def get_price_table() -> PriceTable:
    """The price table in force (:data:`DEFAULT_PRICES` unless replaced)."""
    return _table


def set_price_table(table: PriceTable | Mapping[str, Any]) -> None:
    """Use ``table`` for the cost of every model call recorded from now on.

    Args:
        table: a :class:`PriceTable`, or the mapping :meth:`PriceTable.from_mapping` takes.

    Raises:
        ConfigurationError: a bad entry in the mapping (nothing changes then).
    """
    global _table
    _table = table if isinstance(table, PriceTable) else PriceTable.from_mapping(table)


def load_price_table_from_env() -> PriceTable | None:
    """Read ``OTEL_AGENTS_GENAI_PRICES`` (a JSON file path) and use that table.

    Returns the table, or ``None`` when the variable is unset or empty.

    Raises:
        ConfigurationError: the file is missing, unreadable, not JSON (or nested too deeply
            to parse), or has a bad entry; the message names the variable and the file.
    """
    from otel_agents._settings import GENAI_PRICES  # declared once, with configure()'s settings

    path = GENAI_PRICES.env_text()
    if not path:
        return None
    try:
        table = PriceTable.from_file(path)
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"{PRICES_ENV}={path!r}: {exc}; or unset {PRICES_ENV} to keep the current prices"
        ) from exc
    set_price_table(table)
    return table
