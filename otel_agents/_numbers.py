"""What counts as a number in an argument, a config value or a message field.

Checked in one place because the obvious test has two traps: ``bool`` is an ``int`` (``True``
is not a count of 1), and ``math.isfinite`` raises ``OverflowError`` for an ``int`` too large
for a float (``10**400`` from a JSON file), which would escape as a bare error instead of the
message that names the setting.
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

__all__ = ["is_real"]


def is_real(value: Any) -> TypeGuard[int | float]:
    """``value`` is a finite ``int`` or ``float`` (not a ``bool``) that fits in a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False
