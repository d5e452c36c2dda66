"""Lays out a task attempt's outputs as a top-down lineage graph (parents above children) for inline SVG."""

from dataclasses import dataclass, field

NODE_WIDTH = 210
NODE_HEIGHT = 52
COLUMN_GAP = 28
LAYER_GAP = 40
MARGIN = 16


@dataclass
class Node:
    output_id: str
    label: str
    detail: str
    event_type: str
    external: bool = False
    layer: int = 0
    column: int = 0
    indent: float = 0
    parents: list = field(default_factory=list)

    @property
    def x(self):
        return round(MARGIN + self.indent + self.column * (NODE_WIDTH + COLUMN_GAP))

    @property
    def y(self):
        return MARGIN + self.layer * (NODE_HEIGHT + LAYER_GAP)

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
        return f"progress: {event.get('stage') or '…'}"
    if kind == "artifact":
        return f"artifact: {event.get('name') or '…'}"
    if kind == "final":
        return "final ✓ ok" if event.get("ok") else "final ✗ not ok"
    ref = event.get("chunk") or {}
    if ref.get("kind") == "blob":
        return f"partial: blob {str(ref.get('digest', ''))[:8]}"
    value = ref.get("value")
    return f"partial: {value}" if isinstance(value, str) else "partial"


def layout(outputs, external_parents=()):
    """Place outputs (in insertion order) in layers by depth: a node sits one layer below its deepest parent.

    Parents from outside the attempt are drawn as dashed nodes in the top layer. Insertion order
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
    per_layer = {}
    for node in nodes.values():
        node.column = per_layer.get(node.layer, 0)
        per_layer[node.layer] = node.column + 1
    widest = max(per_layer.values(), default=0)
    for node in nodes.values():
        # Centre each layer under the widest one.
        node.indent = (widest - per_layer[node.layer]) * (NODE_WIDTH + COLUMN_GAP) / 2
    edges = []
    for node in nodes.values():
        for ref in node.parents:
            parent = nodes[ref]
            x1, y1 = parent.x + NODE_WIDTH / 2, parent.y + NODE_HEIGHT
            x2, y2 = node.x + NODE_WIDTH / 2, node.y - 6
            bend = (y2 - y1) / 2
            c1x, c2x = x1, x2
            if node.layer - parent.layer > 1:
                # Skipping layers: bow out sideways so the curve passes beside the nodes in between.
                side = -1 if x1 <= x2 else 1
                c1x = c2x = min(x1, x2) - NODE_WIDTH * 1.05 if side < 0 else max(x1, x2) + NODE_WIDTH * 1.05
            path = f"M{x1:.0f},{y1:.0f} C{c1x:.0f},{y1 + bend:.0f} {c2x:.0f},{y2 - bend:.0f} {x2:.0f},{y2:.0f}"
            edges.append(Edge(source=ref, target=node.output_id, path=path))
    layers = max((node.layer for node in nodes.values()), default=-1) + 1
    width = 2 * MARGIN + widest * NODE_WIDTH + max(widest - 1, 0) * COLUMN_GAP
    height = 2 * MARGIN + layers * NODE_HEIGHT + max(layers - 1, 0) * LAYER_GAP
    return Layout(nodes=list(nodes.values()), edges=edges, width=width, height=height)
