"""Reading YAML that someone else wrote: recipes, sweep files and ``KEY=VALUE`` options.

PyYAML's ``SafeLoader`` builds no arbitrary objects, but it still trusts the document's shape.
This reader adds what a hostile or mistaken file needs, each a :class:`yaml.MarkedYAMLError`
naming the line:

- a size limit (:data:`MAX_BYTES`), checked before anything is parsed;
- a budget of nodes *after aliases are expanded* (:data:`MAX_NODES`): a "billion laughs" alias
  bomb is a few hundred bytes that every later walk (line numbers, validation, fingerprints)
  would expand to billions of values; it fails as soon as the budget is passed, while it is
  still being read. An alias that refers to the collection it is part of is refused too;
- a nesting limit (:data:`MAX_DEPTH`): PyYAML composes and constructs recursively, so 20,000
  nested brackets would otherwise end in a ``RecursionError``;
- a key given twice in one mapping is an error naming both lines (YAML says keys are unique;
  PyYAML keeps the last one silently). Keys merged in with ``<<`` may be overridden, as YAML
  intends;
- a value that cannot be built (an integer of 5,000 digits, a date of month 13) is an error at
  its line instead of a ``ValueError`` traceback; so is an integer written in hexadecimal, octal
  or binary that has more than :data:`MAX_DIGITS` decimal digits (Python builds it, but could
  never print it: every message that named it would raise).

Exponent floats without a dot (``5e-7``, which YAML 1.1 reads as a string) are numbers here,
because people write learning rates that way.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import CollectionNode, MappingNode, Node

#: The largest YAML text read, in characters (a recipe is a few kilobytes).
MAX_BYTES = 1 << 20
#: The most nodes (scalars and collections) a document may hold once its aliases are expanded.
MAX_NODES = 100_000
#: The deepest nesting of mappings and lists.
MAX_DEPTH = 64
#: The most decimal digits of an integer (Python's own limit for turning one into text).
MAX_DIGITS = 4300
_TOO_LARGE = 10**MAX_DIGITS

_MERGE = "tag:yaml.org,2002:merge"


class UnsafeYAMLError(yaml.MarkedYAMLError):
    """A document over one of the limits above (or with a duplicate key)."""


class SafeRecipeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with the limits of this module."""

    def __init__(self, stream: str) -> None:
        if len(stream) > MAX_BYTES:
            raise UnsafeYAMLError(problem=f"the YAML text is {len(stream):,} characters; at most {MAX_BYTES:,} "
                                  "are read")
        super().__init__(stream)
        self._depth = 0
        # Expanded size of every composed node by id; a node being composed is absent, which is
        # how an alias to an enclosing collection is recognised.
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event: Any = self.peek_event()
        mark: Any = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            anchored = self.anchors.get(event.anchor)
            if anchored is not None and id(anchored) not in self._sizes:
                raise UnsafeYAMLError(problem=f"the alias *{event.anchor} refers to a collection it is part of",
                                      problem_mark=mark)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise UnsafeYAMLError(problem=f"nested more than {MAX_DEPTH} levels deep", problem_mark=mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return None
        if id(node) not in self._sizes:
            self._sizes[id(node)] = 1 + sum([self._sizes.get(id(child), 1) for child in _children(node)])
        if self._sizes[id(node)] > MAX_NODES:
            raise UnsafeYAMLError(problem=f"more than {MAX_NODES:,} values once its aliases are expanded "
                                  "(an alias bomb?)", problem_mark=node.start_mark)
        return node

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            data = super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:  # int("9" * 5000), a timestamp of month 13
            raise ConstructorError(problem=f"cannot read this value: {exc}", problem_mark=node.start_mark) from None
        if isinstance(data, int) and not -_TOO_LARGE < data < _TOO_LARGE:  # 0x and 20,000 hex digits
            digits = int(abs(data).bit_length() * 0.30103) + 1
            raise ConstructorError(problem=f"cannot read this value: an integer of about {digits:,} digits (at most "
                                   f"{MAX_DIGITS:,} are read)", problem_mark=node.start_mark)
        return data

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # unhashable: the base class names it
                line = key_node.start_mark.line + 1
                if first is not None:
                    raise UnsafeYAMLError(problem=f"the key {key!r} is given twice: on line {first} and on line "
                                          f"{line} (remove one)", problem_mark=key_node.start_mark)
                seen[key] = line
        return super().construct_mapping(node, deep)


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, CollectionNode):
        return list(node.value)
    return []


SafeRecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def compose(text: str) -> Node | None:
    """The node graph of ``text`` (one document), within the limits."""
    loader = SafeRecipeLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def load(text: str) -> Any:
    """``text`` (one YAML document) as Python values, within the limits."""
    loader = SafeRecipeLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_with_lines(text: str) -> tuple[Any, dict[str, int]]:
    """``(data, lines)``: the document's values and the 1-based line of each dotted key
    (``sampling.n``, ``sources[0].options.count``), from one parse."""
    loader = SafeRecipeLoader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()
    return data, lines_of(node)


def lines_of(node: Node | None) -> dict[str, int]:
    """Map dotted keys of a composed document to 1-based line numbers, for error messages."""
    out: dict[str, int] = {}
    stack: list[tuple[Node, str]] = [] if node is None else [(node, "")]
    while stack:  # not recursive: the node budget bounds it, the depth limit is not needed
        n, prefix = stack.pop()
        if isinstance(n, MappingNode):
            # After construction, keys merged in with ``<<`` come first: the mapping's own win.
            pairs = {str(k.value): (k, v) for k, v in n.value}
            for name, (k, v) in pairs.items():
                key = f"{prefix}.{name}" if prefix else name
                out.setdefault(key, k.start_mark.line + 1)
                stack.append((v, key))
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                key = f"{prefix}[{i}]"
                out.setdefault(key, v.start_mark.line + 1)
                stack.append((v, key))
    return out
