"""RFC 6962 / RFC 9162 Merkle tree hashing and proof construction over stored complete subtrees; no Django.

A node is named (level, index): the complete subtree over leaves [index·2^level, (index+1)·2^level).
Any subtree a proof needs, complete or on the tree's right edge, is the fold of at most log2(n)
such nodes, so roots and proofs cost O(log n) node reads whatever the ledger's size.
"""

import hashlib

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry_hash_hex):
    """Leaf = SHA-256(0x00 ‖ the 32 raw bytes of an entry_hash)."""
    raw = bytes.fromhex(entry_hash_hex)
    if len(raw) != 32:
        raise ValueError("an entry_hash is 32 bytes (64 hex digits)")
    return hashlib.sha256(b"\x00" + raw).digest()


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

    def push_entry_hashes(self, raw):
        """push() the leaf of each entry hash in `raw` (the 32-byte hashes, concatenated, in seq order);
        return every node made, as (level, index, hash), leaves first within each push.

        The integrator's loop: the same hashes as push(leaf_hash(…)) per entry, without a call, a hex
        decode and a tuple per step (the bench's whole-ledger integration spends its time here)."""
        if len(raw) % 32:
            raise ValueError("entry hashes are 32 bytes each")
        made, sha256, edge, size = [], hashlib.sha256, self.edge, self.size
        append = made.append
        for start in range(0, len(raw), 32):
            current = sha256(b"\x00" + raw[start : start + 32]).digest()
            append((0, size, current))
            level, index = 0, size
            while index & 1:
                current = sha256(b"\x01" + edge.pop(level) + current).digest()
                level, index = level + 1, index >> 1
                append((level, index, current))
            edge[level] = current
            size += 1
        self.size = size
        return made

    def root(self):
        if not self.size:
            return EMPTY_ROOT
        return fold([self.edge[level] for level in sorted(self.edge, reverse=True)])

    @staticmethod
    def edge_nodes(size):
        """(level, index) of the pending subtrees of a tree of `size` leaves: the ones push() pairs up next."""
        return {(level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1}
