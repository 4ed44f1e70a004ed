"""Writes plain data (tables, arrays, strings, numbers, booleans) as TOML.

The standard library reads TOML but cannot write it; exports need to write a
rubric with some items or keys removed. Only what ``tomllib`` returns for a
rubric is supported, and :func:`dumps` output reads back equal (tested).
"""

from __future__ import annotations

import json
import math
import re

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def dumps(data: dict) -> str:
    """``data`` as a TOML document."""
    lines: list[str] = []
    _body(data, [], lines)
    return "\n".join(lines).strip() + "\n"


def _body(table: dict, path: list[str], lines: list[str]) -> None:
    for key, value in table.items():
        if not _is_table(value) and not _is_table_array(value):
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in table.items():
        if _is_table(value):
            lines += ["", f"[{'.'.join(_key(k) for k in [*path, key])}]"]
            _body(value, [*path, key], lines)
        elif _is_table_array(value):
            for element in value:
                lines += ["", f"[[{'.'.join(_key(k) for k in [*path, key])}]]"]
                _body(element, [*path, key], lines)


def _is_table(value) -> bool:
    return isinstance(value, dict)


def _is_table_array(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    # JSON's escapes (\" \\ \n \t \uXXXX) are all valid in a TOML basic string; DEL must be escaped too.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML: {value!r}")
