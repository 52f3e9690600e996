"""Rooms by concern, layers that only point down: the import graph drawn from the code.

Every top-level package of the checkout (a "room") has a place in `LAYERS`, bottom first. A
module may import its own room and rooms of a *lower* layer only: never a room above it, and
never a sibling of the same layer (siblings stay independent, so either could move). From that
follow no import circles between rooms, which is checked on its own too, and that nothing
imports the CLI (`returnrisk`, the top). Every import counts: at module level, inside a
function (the CLI's lazy imports) and under `TYPE_CHECKING`. No room may hold more than
`MAX_SHARE` of the source lines (tests excluded), so none grows back into a catch-all.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]

LAYERS: list[set[str]] = [
    {"schemas"},  # event contracts
    {"features"},  # per-customer state and feature vectors
    {"explain", "reporting"},  # TreeSHAP and reasons; HTML reports and charts
    {"models"},  # segments, training, registry, inference
    {"policy"},  # what the stream does with a score
    {"streams"},  # the worker; owns the Kafka, topic, Redis and worker settings
    {"ingest", "analytics", "backtest", "simulator", "devstack"},  # tools on the layers below
    {"producer"},  # sends a log to the input topics (creates them with devstack's helpers)
    {"bench"},  # the benchmark: simulator, producer, local stack, worker
    {"returnrisk"},  # the command line: on top, imported by nothing
]
MAX_SHARE = 0.15

RANK = {room: rank for rank, rooms in enumerate(LAYERS) for room in rooms}


def rooms() -> list[str]:
    """Every top-level Python package of the checkout but the tests."""
    return sorted(p.parent.name for p in REPO.glob("*/__init__.py") if p.parent.name != "tests")


def source_files(room: str) -> list[Path]:
    return sorted(p for p in (REPO / room).rglob("*.py") if "__pycache__" not in p.parts)


def imported_rooms(source: Path) -> Iterator[tuple[str, int, str]]:
    """(room, line, module) for every absolute import of a first-party module in `source`."""
    first_party = set(rooms())
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), str(source))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:  # relative imports stay inside their own package
            continue
        for module in modules:
            if (top := module.split(".")[0]) in first_party:
                yield top, node.lineno, module


def room_graph() -> dict[str, dict[str, list[str]]]:
    """room -> imported room -> `file:line module` of each import between them."""
    graph: dict[str, dict[str, list[str]]] = {room: {} for room in rooms()}
    for room in rooms():
        for source in source_files(room):
            for target, line, module in imported_rooms(source):
                if target != room:
                    where = f"{source.relative_to(REPO)}:{line} {module}"
                    graph[room].setdefault(target, []).append(where)
    return graph


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Every strongly connected set of more than one room (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(room: str) -> None:
        index[room] = low[room] = len(index)
        stack.append(room)
        for target in graph.get(room, {}):
            if target not in index:
                visit(target)
                low[room] = min(low[room], low[target])
            elif target in stack:
                low[room] = min(low[room], index[target])
        if low[room] == index[room]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == room:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for room in sorted(graph):
        if room not in index:
            visit(room)
    return found


def line_counts() -> dict[str, int]:
    return {
        room: sum(len(p.read_text(encoding="utf-8").splitlines()) for p in source_files(room))
        for room in rooms()
    }


def test_every_room_has_a_place_in_the_layer_order() -> None:
    assert set(rooms()) == set(RANK), "add the new room to LAYERS (or remove a stale entry)"


def test_no_import_points_up_or_sideways() -> None:
    wrong = [
        f"{where} ({room}, layer {RANK[room]} -> {target}, layer {RANK[target]})"
        for room, targets in room_graph().items()
        for target, places in targets.items()
        if RANK[target] >= RANK[room]
        for where in places
    ]
    assert wrong == []


def test_no_import_circle_between_rooms() -> None:
    assert cycles(room_graph()) == []


def test_nothing_imports_the_command_line() -> None:
    importers = [room for room, targets in room_graph().items() if "returnrisk" in targets]
    assert importers == []


def test_no_room_holds_more_than_its_share_of_the_lines() -> None:
    counts = line_counts()
    total = sum(counts.values())
    over = {room: f"{n / total:.1%}" for room, n in counts.items() if n > MAX_SHARE * total}
    assert over == {}, f"rooms over {MAX_SHARE:.0%} of {total:,} source lines"


def test_the_circle_finder_finds_circles() -> None:
    """The checks above would pass vacuously if the graph helpers were broken."""
    graph = {"a": {"b": []}, "b": {"c": []}, "c": {"a": []}, "d": {"a": []}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b": []}, "b": {}}) == []


@pytest.mark.parametrize(
    ("room", "target"), [("streams", "returnrisk"), ("models", "policy"), ("ingest", "analytics")]
)
def test_the_graph_sees_an_import_added_inside_a_function(
    room: str, target: str, tmp_path: Path
) -> None:
    source = tmp_path / "probe.py"
    source.write_text(f"def f():\n    from {target}.x import y\n    return y\n", encoding="utf-8")
    assert [t for t, _, _ in imported_rooms(source)] == [target]
    assert RANK[target] >= RANK[room]  # so the up-or-sideways check would report it
