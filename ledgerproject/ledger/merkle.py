"""RFC 6962 / RFC 9162 Merkle tree hashing and proof construction over stored complete subtrees; no Django.

A node is named (level, index): the complete subtree over leaves [index·2^level, (index+1)·2^level).
Any subtree a proof needs, complete or on the tree's right edge, is the fold of at most log2(n)
such nodes, so roots and proofs cost O(log n) node reads whatever the ledger's size.

Nodes are stored in tiles, as the Go checksum database's tlog stores them: a tile holds up to TILE_WIDTH
consecutive nodes of one level that is a multiple of TILE_HEIGHT (0, 4, 8, …), and a node of a level in
between is the fold of the 2, 4 or 8 nodes under it in one tile. A tile is stored as runs of its nodes, each
the ones one integration completed (one run for a tile filled at once), so nothing is stored twice: a tree
of n leaves is about n / 15 rows instead of 2n when integrated in large batches, and about 16n / 15 when
integrated one leaf at a time.
"""

import hashlib

EMPTY_ROOT = hashlib.sha256(b"").digest()


def entry_hash_bytes(entry_hash_hex):
    """The 32 raw bytes of an entry_hash (ValueError unless it is 64 hex digits)."""
    raw = bytes.fromhex(entry_hash_hex)
    if len(raw) != 32:
        raise ValueError("an entry_hash is 32 bytes (64 hex digits)")
    return raw


def leaf_hash(entry_hash_hex):
    """Leaf = SHA-256(0x00 ‖ the 32 raw bytes of an entry_hash)."""
    return hashlib.sha256(b"\x00" + entry_hash_bytes(entry_hash_hex)).digest()


def node_hash(left, right):
    """Interior node = SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n):
    """The largest power of two strictly smaller than n (n ≥ 2): where RFC 6962 splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


def decompose(lo, hi):
    """The aligned complete subtrees, left to right, that exactly cover leaves [lo, hi), as (level, index)."""
    nodes = []
    while lo < hi:
        level = (lo & -lo).bit_length() - 1 if lo else (hi - lo).bit_length() - 1
        while (1 << level) > hi - lo:
            level -= 1
        nodes.append((level, lo >> level))
        lo += 1 << level
    return nodes


def fold(hashes):
    """MTH of a range from its decomposition: the right-edge subtrees hash from the right."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_ranges(index, size):
    """The leaf ranges [lo, hi) whose MTHs make up PATH(index, D[size]), bottom-up (RFC 9162 §2.1.3.1)."""
    ranges = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo = lo + k
    return list(reversed(ranges))


def consistency_ranges(first, second):
    """The leaf ranges of SUBPROOF(first, D[second], true), bottom-up (RFC 9162 §2.1.4.1); 0 < first < second."""
    ranges = []
    lo, hi, m, whole = 0, second, first, True
    while True:
        n = hi - lo
        if m == n:
            if not whole:
                ranges.append((lo, hi))
            break
        k = split_point(n)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    return list(reversed(ranges))


class Tree:
    """Roots and proofs of a tree of `size` leaves, reading complete subtrees through `fetch`.

    fetch(set of (level, index)) → {(level, index): 32-byte hash}; it is called once per root or proof.
    """

    def __init__(self, size, fetch):
        self.size = size
        self.fetch = fetch

    def _hashes(self, ranges):
        plans = [decompose(lo, hi) for lo, hi in ranges]
        wanted = {node for plan in plans for node in plan}
        found = self.fetch(wanted) if wanted else {}
        missing = wanted - found.keys()
        if missing:
            raise LookupError(f"Merkle state lacks {len(missing)} node(s), e.g. {sorted(missing)[0]}: integrate first")
        return [fold([found[node] for node in plan]) for plan in plans]

    def root(self, size=None):
        size = self.size if size is None else size
        if size == 0:
            return EMPTY_ROOT
        return self._hashes([(0, size)])[0]

    def inclusion_proof(self, index, size=None):
        size = self.size if size is None else size
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is outside a tree of size {size}")
        return self._hashes(inclusion_ranges(index, size))

    def consistency_proof(self, first, second=None):
        second = self.size if second is None else second
        if not 0 < first <= second:
            raise ValueError(f"no consistency proof from size {first} to size {second}")
        if first == second:
            return []
        return self._hashes(consistency_ranges(first, second))


TILE_HEIGHT = 4
TILE_WIDTH = 1 << TILE_HEIGHT


def tile_of(level, index):
    """Where node (level, index) is read from: (tile level, tile index, first, count) — the fold of the
    `count` nodes from position `first` of the tile (tile level, tile index)."""
    height = level % TILE_HEIGHT
    base = index << height  # its first node at the tile's level
    return level - height, base >> TILE_HEIGHT, base & (TILE_WIDTH - 1), 1 << height


def split_hashes(hashes, first=0, count=None):
    """The 32-byte hashes concatenated in `hashes` (a tile's or a stored run's), `count` of them (all when
    None) from position `first`."""
    stop = len(hashes) if count is None else 32 * (first + count)
    return [hashes[offset : offset + 32] for offset in range(32 * first, stop, 32)]


def fold_tile(hashes, first, count):
    """The root of the complete subtree over the `count` (a power of two) nodes of a tile's `hashes` (their
    32-byte hashes, concatenated) from position `first`."""
    nodes = split_hashes(hashes, first, count)
    while len(nodes) > 1:
        nodes = [node_hash(nodes[i], nodes[i + 1]) for i in range(0, len(nodes), 2)]
    return nodes[0]


def nodes_from_tiles(wanted, tiles):
    """{(level, index): hash} of the `wanted` nodes that `tiles` ({(tile level, tile index): hashes}) hold."""
    found = {}
    for node in wanted:
        level, index, first, count = tile_of(*node)
        hashes = tiles.get((level, index))
        if hashes is not None and len(hashes) >= 32 * (first + count):
            found[node] = fold_tile(hashes, first, count)
    return found


def tiles_from_runs(runs):
    """{(tile level, tile index): hashes} of stored runs (level, index of their first node, hashes): each tile's
    nodes from its first on, up to the first one missing (a run that does not continue them is not used)."""
    tiles = {}
    for level, index, hashes in sorted(runs):
        key = (level, index >> TILE_HEIGHT)
        held = tiles.get(key, b"")
        if index & (TILE_WIDTH - 1) == len(held) // 32:
            tiles[key] = held + bytes(hashes)
    return tiles


def root_from_leaves(leaves):
    """MTH of a list of leaf hashes, in memory (tests and small trees); streaming needs `Frontier`."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.push(leaf)
    return frontier.root()


class Frontier:
    """The right edge of a growing tree: one pending complete subtree per set bit of the size.

    push() returns the complete subtrees the new leaf finished, as ((level, index), hash), leaf first.
    """

    def __init__(self, size=0, edge=None):
        self.size = size
        # level → hash of the complete subtree at that level still waiting for its right sibling.
        self.edge = dict(edge or {})

    def push(self, leaf):
        made = [((0, self.size), leaf)]
        current, level, index = leaf, 0, self.size
        while index & 1:
            current = node_hash(self.edge.pop(level), current)
            level, index = level + 1, index >> 1
            made.append(((level, index), current))
        self.edge[level] = current
        self.size += 1
        return made

    def push_runs(self, raw, leaves=False):
        """push() the leaf of each entry hash in `raw` (the 32-byte hashes, concatenated, in seq order; with
        `leaves`, the leaf hashes themselves); return the runs to store, as (level, index of the first node,
        hashes): the new nodes of each tile level, cut where a tile ends. Only nodes of tile levels are kept;
        every node is still hashed, as the edge needs them."""
        if len(raw) % 32:
            raise ValueError("entry hashes are 32 bytes each")
        before, sha256, edge, size = self.size, hashlib.sha256, self.edge, self.size
        made, kept = {}, []  # level → its new nodes, in index order; the new leaves
        keep = kept.append
        for start in range(0, len(raw), 32):
            current = raw[start : start + 32] if leaves else sha256(b"\x00" + raw[start : start + 32]).digest()
            keep(current)
            level, index = 0, size
            while index & 1:
                current = sha256(b"\x01" + edge.pop(level) + current).digest()
                level, index = level + 1, index >> 1
                if not level % TILE_HEIGHT:
                    made.setdefault(level, []).append(current)
            edge[level] = current
            size += 1
        self.size = size
        made[0] = kept
        runs = []
        for level, nodes in sorted(made.items()):
            first = before >> level  # the level's first new node
            cut = 0
            while cut < len(nodes):
                count = TILE_WIDTH - ((first + cut) & (TILE_WIDTH - 1))  # up to the end of its tile
                runs.append((level, first + cut, b"".join(nodes[cut : cut + count])))
                cut += count
        return runs

    def root(self):
        if not self.size:
            return EMPTY_ROOT
        return fold([self.edge[level] for level in sorted(self.edge, reverse=True)])

    @staticmethod
    def edge_nodes(size):
        """(level, index) of the pending subtrees of a tree of `size` leaves: the ones push() pairs up next."""
        return {(level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1}
