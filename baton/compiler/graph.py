"""Graph algorithms on small adjacency maps: order, generations and cycles.

A topological sort (Kahn) answers the common case, acyclic, in linear time without
importing networkx (~80-190 ms). Only when the sort fails do we load networkx and look
for cycles inside strongly connected components, one cycle per component.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Edges = Mapping[str, Iterable[str]]  # node -> the nodes it depends on


def generations(nodes: Iterable[str], depends_on: Edges) -> list[list[str]] | None:
    """Nodes grouped into generations that can run in parallel, or None if cyclic.

    Dependencies outside `nodes` are ignored (another rule reports them).

    >>> generations(["a", "b", "c"], {"b": ["a"], "c": ["a"]})
    [['a'], ['b', 'c']]
    >>> generations(["a", "b"], {"a": ["b"], "b": ["a"]}) is None
    True
    """
    members = set(nodes)
    remaining = {n: {d for d in depends_on.get(n, ()) if d in members} for n in members}
    dependents: dict[str, list[str]] = {n: [] for n in members}
    for node, deps in remaining.items():
        for dep in deps:
            dependents[dep].append(node)
    ready = sorted(n for n, deps in remaining.items() if not deps)
    result: list[list[str]] = []
    placed = 0
    while ready:
        result.append(ready)
        placed += len(ready)
        following: list[str] = []
        for node in ready:
            for dependent in dependents[node]:
                deps = remaining[dependent]
                deps.discard(node)
                if not deps:
                    following.append(dependent)
        ready = sorted(following)
    return result if placed == len(members) else None


def topological_order(nodes: Iterable[str], depends_on: Edges) -> list[str] | None:
    """Nodes with every dependency first (sorted within a generation), or None if cyclic."""
    layers = generations(nodes, depends_on)
    return None if layers is None else [node for layer in layers for node in layer]


def find_cycles(
    nodes: Iterable[str], depends_on: Edges, order: Mapping[str, int]
) -> list[list[str]]:
    """One cycle per strongly connected component, each starting at its earliest node.

    `order` ranks nodes (their position in the file), so a cycle is reported from the
    node the user wrote first, in dependency direction: a -> b means a needs b. The path
    goes through every node of its component, so no node of a cycle goes unreported; when
    no simple cycle covers the component, a node may appear twice (`a -> b -> c -> b -> a`).

    >>> find_cycles(["a", "b", "c"], {"a": ["b"], "b": ["a"], "c": ["c"]}, {"a": 0, "b": 1, "c": 2})
    [['a', 'b', 'a'], ['c', 'c']]
    >>> find_cycles(["a", "b", "c"], {"a": ["b"], "b": ["a", "c"], "c": ["b"]}, {})
    [['a', 'b', 'c', 'b', 'a']]
    """
    import networkx as nx

    members: set[str] = set(nodes)
    graph: nx.DiGraph[str] = nx.DiGraph()
    for member in sorted(members, key=lambda n: (order.get(n, 0), n)):
        graph.add_node(member)
    for node in sorted(members):
        for dep in sorted(set(depends_on.get(node, ()))):
            if dep in members:
                graph.add_edge(node, dep)
    cycles = []
    for component in nx.strongly_connected_components(graph):
        start = min(sorted(component), key=lambda n: order.get(str(n), 0))
        if len(component) == 1 and not graph.has_edge(start, start):
            continue
        cycles.append(_covering_cycle(graph.subgraph(component), start))
    return sorted(cycles, key=lambda cycle: (order.get(cycle[0], 0), cycle[0]))


def _covering_cycle(graph: object, start: str) -> list[str]:
    """A closed walk from `start` through every node of a strongly connected graph.

    Greedy: walk to the nearest node not yet visited (BFS, successors in name order),
    then back to `start`; for a component that is one simple cycle, that cycle.
    """
    successors = {n: sorted(graph.successors(n)) for n in graph.nodes}  # type: ignore[attr-defined]
    path = [start]
    unvisited = set(successors) - {start}
    while unvisited:
        path += _route(successors, path[-1], unvisited)
        unvisited -= set(path)
    return path + _route(successors, path[-1], {start})


def _route(successors: dict[str, list[str]], source: str, targets: set[str]) -> list[str]:
    """The nodes after `source` on a shortest path to the nearest of `targets` (BFS)."""
    from collections import deque

    parents: dict[str, str] = {}
    queue = deque([source])
    seen = {source}
    while queue:
        node = queue.popleft()
        for nxt in successors[node]:
            if nxt in targets:
                route = [nxt, node]
                while route[-1] != source:
                    route.append(parents[route[-1]])
                return route[-2::-1]
            if nxt not in seen:
                seen.add(nxt)
                parents[nxt] = node
                queue.append(nxt)
    raise ValueError("no route: the graph is not strongly connected")  # pragma: no cover
