"""YAML loading that refuses alias bombs: ``yaml.safe_load`` with a limit on expanded size.

PyYAML builds an alias (``*name``) as a reference to its anchored value, so loading stays
cheap, but whatever walks the result (validation, error messages, JSON dumps) visits every
use: nine aliases of nine aliases, seven levels deep, are 4.8 million values. :func:`load`
counts the values a document holds with every alias expanded and refuses it above
:data:`MAX_NODES`, before building any Python object.
"""

from __future__ import annotations

import yaml

from spillover.errors import SpilloverError

__all__ = ["MAX_NODES", "YamlTooLarge", "expanded_size", "load"]

#: Most values (YAML nodes) a document may hold once its aliases are expanded: a config holds
#: a few thousand.
MAX_NODES = 100_000


class YamlTooLarge(SpilloverError, ValueError):
    """A YAML document expands beyond :data:`MAX_NODES` values, or refers to itself."""


def expanded_size(node: yaml.Node, sizes: dict[int, float], open_nodes: set[int]) -> float:
    """Nodes under ``node``, itself included, with every alias expanded.

    Parameters
    ----------
    node : yaml.Node
        A composed node (``yaml.SafeLoader.get_single_node``).
    sizes : dict
        Memo of sizes by node id (pass ``{}``): shared nodes are counted once per use but
        walked once.
    open_nodes : set
        Ids of the nodes being walked (pass ``set()``).

    Returns
    -------
    float
        The count; infinite for an alias inside its own anchor.
    """
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:  # an alias inside its own anchor
        return float("inf")
    open_nodes.add(key)
    children = node.value if isinstance(node, yaml.SequenceNode) else []
    if isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    sizes[key] = 1 + sum(expanded_size(child, sizes, open_nodes) for child in children)
    open_nodes.discard(key)
    return sizes[key]


def load(text: str, origin: str = "<yaml>") -> object:
    """``yaml.safe_load(text)``, refusing documents that expand beyond :data:`MAX_NODES`.

    Raises
    ------
    YamlTooLarge
        Naming ``origin`` (the file) and the limit; the message never quotes the document.
    yaml.YAMLError
        ``text`` is not YAML.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if expanded_size(node, {}, set()) > MAX_NODES:
            raise YamlTooLarge(
                f"{origin}: its aliases (*name) expand to more than {MAX_NODES:,} values, or "
                "refer to themselves; write the values out or use fewer nested aliases"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()
