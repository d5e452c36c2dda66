"""The Merkle tree and the offline verifier's proof checks: RFC 6962 vectors, published roots, random trees."""

import base64
import hashlib
import json
from pathlib import Path

import pytest
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from ledgerproject.ledger import merkle
from ledgerproject.ledger.verify import VerificationError, verify_consistency, verify_inclusion

VECTORS = Path(settings.BASE_DIR).parent / "shared" / "vectors" / "merkle" / "testdata"

# The leaves behind the transparency-dev/merkle vectors and RFC 6962's reference tests.
SAMPLE_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
# Their published roots (certificate-transparency merkle_tree_test), for trees of 1…8 leaves.
PUBLISHED_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def data_leaf(hex_data):
    return hashlib.sha256(b"\x00" + bytes.fromhex(hex_data)).digest()


class MemoryTree:
    """A tree whose complete subtrees live in a dict, filled the way integration fills the table."""

    def __init__(self, leaves):
        self.nodes = {}
        frontier = merkle.Frontier()
        for leaf in leaves:
            self.nodes.update(frontier.push(leaf))
        self.leaves = list(leaves)

    def at(self, size):
        return merkle.Tree(size, lambda wanted: {node: self.nodes[node] for node in wanted if node in self.nodes})


def _cases(kind):
    if not VECTORS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{VECTORS} is absent"))]
    files = sorted((VECTORS / kind).rglob("*.json"))
    return [pytest.param(path, id=str(path.relative_to(VECTORS / kind))) for path in files]


def _b64(value):
    return base64.b64decode(value or "")


@pytest.mark.parametrize("path", _cases("inclusion"))
def test_it_agrees_with_every_rfc6962_inclusion_vector(path):
    case = json.loads(path.read_text())
    proof = [_b64(p) for p in case["proof"] or []]
    args = (case["leafIdx"], case["treeSize"], _b64(case["leafHash"]), proof, _b64(case["root"]))
    if case["wantErr"]:
        with pytest.raises(VerificationError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", _cases("consistency"))
def test_it_agrees_with_every_rfc6962_consistency_vector(path):
    case = json.loads(path.read_text())
    proof = [_b64(p) for p in case["proof"] or []]
    args = (case["size1"], case["size2"], _b64(case["root1"]), _b64(case["root2"]), proof)
    if case["wantErr"]:
        with pytest.raises(VerificationError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_it_finds_the_published_roots_of_the_sample_leaves():
    leaves = [data_leaf(data) for data in SAMPLE_LEAVES]
    tree = MemoryTree(leaves)
    for size, expected in enumerate(PUBLISHED_ROOTS, start=1):
        assert merkle.root_from_leaves(leaves[:size]).hex() == expected
        assert tree.at(size).root().hex() == expected


def test_its_sample_proofs_verify_against_the_published_roots():
    tree = MemoryTree([data_leaf(data) for data in SAMPLE_LEAVES])
    for size in range(1, 9):
        root = bytes.fromhex(PUBLISHED_ROOTS[size - 1])
        for index in range(size):
            verify_inclusion(index, size, tree.leaves[index], tree.at(8).inclusion_proof(index, size), root)
        for first in range(1, size + 1):
            first_root = bytes.fromhex(PUBLISHED_ROOTS[first - 1])
            verify_consistency(first, size, first_root, root, tree.at(8).consistency_proof(first, size))


def test_it_rejects_a_proof_checked_against_another_tree_size():
    tree = MemoryTree([data_leaf(data) for data in SAMPLE_LEAVES])
    proof = tree.at(7).inclusion_proof(2)
    with pytest.raises(VerificationError):
        verify_inclusion(2, 8, tree.leaves[2], proof, bytes.fromhex(PUBLISHED_ROOTS[7]))
    with pytest.raises(VerificationError):
        verify_inclusion(2, 6, tree.leaves[2], proof, bytes.fromhex(PUBLISHED_ROOTS[5]))


def test_the_empty_tree_has_the_hash_of_nothing():
    assert merkle.Tree(0, dict).root() == hashlib.sha256(b"").digest()
    assert merkle.root_from_leaves([]) == hashlib.sha256(b"").digest()


def test_decompose_covers_a_range_with_aligned_complete_subtrees():
    for lo in range(0, 40):
        for hi in range(lo + 1, 70):
            covered = []
            for level, index in merkle.decompose(lo, hi):
                start = index << level
                assert start % (1 << level) == 0
                covered.extend(range(start, start + (1 << level)))
            assert covered == list(range(lo, hi))


def _mutations(proof):
    """Every way a proof can be subtly wrong: a flipped bit, a missing, extra or repeated element."""
    for position in range(len(proof)):
        for bit in (0, 255):
            changed = list(proof)
            element = bytearray(changed[position])
            element[bit // 8] ^= 1 << (bit % 8)
            changed[position] = bytes(element)
            yield changed
        yield proof[:position] + proof[position + 1 :]
    yield [*proof, proof[-1] if proof else b"\x00" * 32]
    yield [b"\x11" * 32, *proof]


@given(size=st.integers(1, 300), data=st.data())
def test_every_inclusion_proof_verifies_and_every_tampered_one_fails(size, data):
    leaves = [hashlib.sha256(b"\x00" + i.to_bytes(4, "big")).digest() for i in range(size)]
    tree = MemoryTree(leaves).at(size)
    root = merkle.root_from_leaves(leaves)
    assert tree.root() == root
    index = data.draw(st.integers(0, size - 1))
    proof = tree.inclusion_proof(index)
    verify_inclusion(index, size, leaves[index], proof, root)
    for wrong in _mutations(proof):
        with pytest.raises(VerificationError):
            verify_inclusion(index, size, leaves[index], wrong, root)
    for other in (index - 1, index + 1):
        if 0 <= other < size and leaves[other] != leaves[index]:
            with pytest.raises(VerificationError):
                verify_inclusion(other, size, leaves[index], proof, root)
    with pytest.raises(VerificationError):
        verify_inclusion(index, size, leaves[index], proof, hashlib.sha256(root).digest())


@given(second=st.integers(2, 300), data=st.data())
def test_every_consistency_proof_verifies_and_every_tampered_one_fails(second, data):
    leaves = [hashlib.sha256(b"\x00" + i.to_bytes(4, "big")).digest() for i in range(second)]
    stored = MemoryTree(leaves)
    first = data.draw(st.integers(1, second - 1))
    first_root, second_root = merkle.root_from_leaves(leaves[:first]), merkle.root_from_leaves(leaves)
    proof = stored.at(second).consistency_proof(first)
    verify_consistency(first, second, first_root, second_root, proof)
    for wrong in _mutations(proof):
        with pytest.raises(VerificationError):
            verify_consistency(first, second, first_root, second_root, wrong)
    with pytest.raises(VerificationError):
        verify_consistency(first, second, second_root, first_root, proof)
    for other in (first - 1, first + 1):
        if 1 <= other < second:
            with pytest.raises(VerificationError):
                verify_consistency(other, second, first_root, second_root, proof)


@given(
    steps=st.lists(st.sampled_from([1, 2, 3, 15, 16, 17, 31, 255, 256, 257]), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_tiles_grown_in_any_steps_hold_every_node_of_the_tree(steps, seed):
    """Integration's way: each step reads the right edge from the tiles, grows, and stores the nodes it made."""
    size = sum(steps)
    raw = b"".join(hashlib.sha256(f"{seed}/{i}".encode()).digest() for i in range(size))
    reference, nodes = merkle.Frontier(), {}
    for offset in range(0, len(raw), 32):
        nodes.update(reference.push(hashlib.sha256(b"\x00" + raw[offset : offset + 32]).digest()))
    runs, grown = {}, 0
    for step in steps:
        edge_nodes = merkle.Frontier.edge_nodes(grown)
        edge = merkle.nodes_from_tiles(edge_nodes, merkle.tiles_from_runs((*key, h) for key, h in runs.items()))
        assert edge.keys() == edge_nodes
        frontier = merkle.Frontier(grown, {level: value for (level, _), value in edge.items()})
        for level, index, hashes in frontier.push_runs(raw[32 * grown : 32 * (grown + step)]):
            assert level % merkle.TILE_HEIGHT == 0 and len(hashes) % 32 == 0 and hashes
            assert index % merkle.TILE_WIDTH + len(hashes) // 32 <= merkle.TILE_WIDTH  # within one tile
            assert (level, index) not in runs  # no node stored twice
            runs[level, index] = hashes
        grown += step
        assert frontier.root() == merkle.root_from_leaves([nodes[0, i] for i in range(grown)])
    tiles = merkle.tiles_from_runs((*key, h) for key, h in runs.items())
    assert merkle.nodes_from_tiles(nodes.keys(), tiles) == nodes
    # Nothing beyond the tree: the node after the last leaf and the subtree it would close are not found.
    assert merkle.nodes_from_tiles({(0, size), (1, size // 2)}, tiles) == {}


def test_a_node_is_read_from_the_tile_of_the_level_at_or_below_it():
    assert merkle.tile_of(0, 0) == (0, 0, 0, 1)
    assert merkle.tile_of(0, 17) == (0, 1, 1, 1)
    assert merkle.tile_of(3, 2) == (0, 1, 0, 8)  # leaves 16–23: nodes 16–23 of level 0, in its second tile
    assert merkle.tile_of(4, 0) == (4, 0, 0, 1)
    assert merkle.tile_of(6, 5) == (4, 1, 4, 4)  # level-4 nodes 20–23


def test_a_tile_is_laid_from_the_runs_that_follow_each_other_from_its_first_node():
    a, b, c = b"\x0a" * 32, b"\x0b" * 64, b"\x0c" * 32
    assert merkle.tiles_from_runs([(0, 16, a), (0, 17, b), (4, 0, c)]) == {(0, 1): a + b, (4, 0): c}
    assert merkle.tiles_from_runs([(0, 16, a), (0, 18, c)]) == {(0, 1): a}  # node 17 missing: 18 is not used
    assert merkle.tiles_from_runs([(0, 17, b)]) == {}  # the tile's first node missing
