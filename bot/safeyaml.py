"""The one YAML loader for configuration (runbooks, monitors, the service catalog, settings).

Safe tags only, and bounded: a file over `MAX_BYTES` is refused, and so is a document whose
aliases expand to more than `MAX_NODES` nodes. A 500-byte "billion laughs" file of nested
aliases is tiny as text but exponential once walked (by the loaders' line maps and by pydantic),
which is what made validating one take minutes and gigabytes. The expansion is counted on the
composed node graph with memoization, in time linear in the file, before anything walks it.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000


class YamlLimitExceeded(yaml.MarkedYAMLError):
    """Refused before loading; rendered like any other YAML error (``problem`` at ``problem_mark``)."""

    def __init__(self, problem: str, mark: yaml.Mark | None = None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def expanded_size(node: yaml.Node, limit: int = MAX_NODES) -> int:
    """Nodes in the document with every alias expanded; stops counting past ``limit``."""
    sizes: dict[int, int] = {}
    # Iterative post-order: a deeply nested document must not exhaust Python's stack here.
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, done = stack.pop()
        if id(current) in sizes:
            continue
        children = _children(current)
        if not done:
            stack.append((current, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        total = 1 + sum(sizes.get(id(child), 0) for child in children)
        sizes[id(current)] = total
        if total > limit:
            raise YamlLimitExceeded(
                f"aliases expand to more than {limit} nodes (refused: an alias bomb or a document too large)",
                current.start_mark)
    return sizes[id(node)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def compose(text: str, *, max_bytes: int = MAX_BYTES, max_nodes: int = MAX_NODES) -> tuple[yaml.Node | None, Any]:
    """(the composed node graph, the data) of one YAML document, within the limits."""
    if len(text) > max_bytes or len(text.encode("utf-8", "replace")) > max_bytes:
        raise YamlLimitExceeded(f"larger than {max_bytes} bytes")
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise YamlLimitExceeded("nested too deeply") from None
        if node is None:
            return None, None
        expanded_size(node, max_nodes)
        try:
            return node, loader.construct_document(node)
        except RecursionError:
            raise YamlLimitExceeded("nested too deeply", node.start_mark) from None
    finally:
        loader.dispose()


def safe_load(text: str) -> Any:
    return compose(text)[1]
