"""Lays out a task attempt's outputs as a left-to-right lineage graph (parents → children) for inline SVG."""

from dataclasses import dataclass, field

NODE_WIDTH = 210
NODE_HEIGHT = 56
COLUMN_GAP = 70
ROW_GAP = 22
MARGIN = 16


@dataclass
class Node:
    output_id: str
    label: str
    detail: str
    event_type: str
    external: bool = False
    layer: int = 0
    row: int = 0
    parents: list = field(default_factory=list)

    @property
    def x(self):
        return MARGIN + self.layer * (NODE_WIDTH + COLUMN_GAP)

    @property
    def y(self):
        return MARGIN + self.row * (NODE_HEIGHT + ROW_GAP)

    @property
    def text_x(self):
        return self.x + 10

    @property
    def anchor(self):
        return self.output_id if not self.external else ""


@dataclass
class Edge:
    source: str
    target: str
    path: str


@dataclass
class Layout:
    nodes: list
    edges: list
    width: int
    height: int


def _label_for(output):
    event = output.event or {}
    kind = event.get("type", "?")
    if kind == "progress":
        return event.get("stage") or "progress"
    if kind == "artifact":
        return event.get("name") or "artifact"
    if kind == "final":
        return "final ✓" if event.get("ok") else "final ✗"
    return kind


def layout(outputs, external_parents=()):
    """Place outputs (in insertion order) in columns by depth: a node sits one column right of its deepest parent.

    Parents from outside the attempt are drawn as dashed nodes in the first column. Insertion order
    guarantees parents come first (a parent must exist before its child is appended), so one pass
    assigns every layer.
    """
    nodes = {}
    for parent in external_parents:
        nodes[parent.output_id] = Node(
            output_id=parent.output_id,
            label=_label_for(parent),
            detail=f"{parent.task_id} #{parent.attempt} · {parent.producer_agent}",
            event_type=parent.event_type,
            external=True,
        )
    external_offset = 1 if external_parents else 0
    for output in outputs:
        node = Node(
            output_id=output.output_id,
            label=_label_for(output),
            detail=f"{output.producer_agent} · {output.output_id}",
            event_type=output.event_type,
            layer=external_offset,
            parents=[ref for ref in output.parent_refs if ref in nodes],
        )
        for ref in node.parents:
            node.layer = max(node.layer, nodes[ref].layer + 1)
        nodes[output.output_id] = node
    rows_used = {}
    for node in nodes.values():
        node.row = rows_used.get(node.layer, 0)
        rows_used[node.layer] = node.row + 1
    edges = []
    for node in nodes.values():
        for ref in node.parents:
            parent = nodes[ref]
            x1, y1 = parent.x + NODE_WIDTH, parent.y + NODE_HEIGHT / 2
            x2, y2 = node.x - 6, node.y + NODE_HEIGHT / 2
            bend = (x2 - x1) / 2
            path = f"M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f} {x2 - bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
            edges.append(Edge(source=ref, target=node.output_id, path=path))
    layers = max((node.layer for node in nodes.values()), default=-1) + 1
    rows = max(rows_used.values(), default=0)
    width = 2 * MARGIN + layers * NODE_WIDTH + max(layers - 1, 0) * COLUMN_GAP
    height = 2 * MARGIN + rows * NODE_HEIGHT + max(rows - 1, 0) * ROW_GAP
    return Layout(nodes=list(nodes.values()), edges=edges, width=max(width, 0), height=max(height, 0))
