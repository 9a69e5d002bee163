"""Job-file text → plain values: YAML (safe tags only) and JSON, refusing duplicate keys.

Both formats let a mapping name a key twice and keep the last value silently,
so a job file with two ``C:`` entries would tune something other than what its
author reads. Here a repeated key is an error naming the key and where it is:
the line for YAML (from the parser's marks), the dotted path for JSON (whose
decoder hooks see objects, not positions).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from fasthpo.errors import ConfigError


class _UniqueKeyLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses a mapping naming the same key twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}  # key -> line (0-based) where it first appears
        for key_node, _ in node.value:  # before merges are flattened: ``<<`` may be overridden
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: SafeLoader itself refuses it below
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {first + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, source: str) -> Any:
    """Plain values from YAML ``text``; ``ConfigError`` naming ``source`` and the line on error."""
    loader = None
    try:
        # A SafeLoader: plain values only, never arbitrary objects. Made inside the try,
        # since reading the text already refuses unprintable characters.
        loader = _UniqueKeyLoader(text)
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError("", f"{source}: invalid YAML{at}: {problem}") from None
    except RecursionError:
        raise ConfigError("", f"{source}: invalid YAML: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


class _DuplicateJsonKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateJsonKey(key)
        result[key] = value
    return result


def parse_json(text: str, source: str) -> Any:
    """Plain values from JSON ``text``; ``ConfigError`` naming ``source``, and the key path of a duplicate."""
    try:
        return json.loads(text, object_pairs_hook=_unique_object)
    except _DuplicateJsonKey as exc:
        path = _key_path(text, exc.key)
        raise ConfigError(path, f"{source}: duplicate key {exc.key!r} in JSON") from None
    except json.JSONDecodeError as exc:
        raise ConfigError("", f"{source}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except RecursionError:
        raise ConfigError("", f"{source}: invalid JSON: nested too deeply") from None


def _key_path(text: str, key: str) -> str:
    """The dotted path of the first object that names ``key`` twice (``key`` alone if not found)."""
    found: list[str] = []

    def walk(value: Any, path: tuple[str, ...]) -> None:
        if found:
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, (*path[:-1], f"{path[-1]}[{i}]") if path else (f"[{i}]",))
        elif isinstance(value, _Pairs):
            keys = [k for k, _ in value.pairs]
            if keys.count(key) > 1:
                found.append(".".join((*path, key)))
                return
            for k, item in value.pairs:
                walk(item, (*path, k))

    walk(json.loads(text, object_pairs_hook=_Pairs), ())
    return found[0] if found else key


class _Pairs:
    """A JSON object kept as its list of pairs (duplicates and all), to locate a duplicate."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs
