"""The RFC 9162 Merkle tree (ledger.audit.merkle) against an implementation nobody
here wrote: the published test data of github.com/transparency-dev/merkle (Go,
Apache-2.0, the library behind Trillian and the Go checksum database), copied
below byte for byte with the file each value comes from:

- ``testonly/constants.go`` (commit 417fb0c314750d94e53942e9f92e79b6d35915db):
  the 8 leaf inputs, every perfect-subtree node hash, the root per size 0..8 and
  the compact range per size;
- ``rfc6962/rfc6962_test.go`` (same commit): the hasher's own vectors;
- ``proof/verify_test.go`` at 9ca563d3ac2bab915317cf153ed4f952f6e74c07 (the last
  version with inline tables; the same vectors are now the ``happy-path.json``
  files of ``testdata/inclusion/{0..4}`` and ``testdata/consistency/{0..4}``):
  inclusion proofs (1-based leaf numbers there) and consistency proofs, and the
  corruptions each must be refused under;
- ``testdata/inclusion/additional``, ``testdata/inclusion/single-entry`` and
  ``testdata/consistency/additional`` (commit 417fb0c): edge cases, base64 there,
  hex here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    DictNodeStore,
    MemoryTree,
    NodeAddr,
    consistency_addresses,
    consistency_proof,
    consistency_proof_at,
    inclusion_addresses,
    inclusion_proof,
    inclusion_proof_at,
    leaf_hash,
    needed_addresses,
    node_hash,
    range_addresses,
    root,
    root_at,
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)
from ledger.store.chain import GENESIS_HASH, encode_event, next_chain_hash


def h(s: str) -> bytes:
    return bytes.fromhex(s)


# --- transparency-dev/merkle testonly/constants.go -----------------------------------

LEAF_INPUTS = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]

NODE_HASHES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [
        h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
    ],
]

ROOT_HASHES = [  # indexed by tree size, 0..8
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

_NH = NODE_HASHES
COMPACT_TREES = [  # CompactTrees(): the frontier per tree size, largest subtree first
    [],
    [_NH[0][0]],
    [_NH[1][0]],
    [_NH[1][0], _NH[0][2]],
    [_NH[2][0]],
    [_NH[2][0], _NH[0][4]],
    [_NH[2][0], _NH[1][2]],
    [_NH[2][0], _NH[1][2], _NH[0][6]],
    [_NH[3][0]],
]

# --- transparency-dev/merkle proof/verify_test.go (9ca563d) ---------------------------

# (leaf number, 1-based as in the Go table; tree size; audit path)
INCLUSION_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (3, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        2,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

# (size1, size2, consistency proof)
CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")
EMPTY_TREE_HASH = h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

LEAF_HASHES = [leaf_hash(x) for x in LEAF_INPUTS]


def full_tree() -> MemoryTree:
    tree = MemoryTree()
    for data in LEAF_INPUTS:
        tree.append_data(data)
    return tree


# --- hashing: transparency-dev/merkle rfc6962/rfc6962_test.go ----------------------------


def test_hasher_matches_the_published_vectors() -> None:
    assert h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == EMPTY_ROOT
    assert root([]) == EMPTY_ROOT
    assert leaf_hash(b"") == h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert leaf_hash(b"L123456") == h(
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert node_hash(b"N123", b"N456") == h(
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


def test_hasher_is_the_rfc_definition() -> None:
    a, b = leaf_hash(b"Hello"), leaf_hash(b"World")
    assert a == hashlib.sha256(b"\x00Hello").digest()
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert node_hash(a, b) != node_hash(b, a)
    assert node_hash(a, b) != leaf_hash(a + b)


# --- roots and stored nodes ---------------------------------------------------------------


@pytest.mark.parametrize("size", range(9))
def test_root_per_size_matches_the_published_roots(size: int) -> None:
    want = ROOT_HASHES[size]
    assert root(LEAF_HASHES[:size]) == want
    assert root_at(full_tree().store, size) == want


def test_every_stored_node_matches_the_published_node_hashes() -> None:
    tree = full_tree()
    for level, row in enumerate(NODE_HASHES):
        for index, want in enumerate(row):
            assert tree.store.get(level, index) == want, (level, index)
    assert len(tree.store.nodes) == sum(len(row) for row in NODE_HASHES)


def test_appending_one_leaf_at_a_time_gives_the_published_frontier_and_root() -> None:
    tree = MemoryTree()
    assert tree.frontier.nodes == COMPACT_TREES[0]
    assert tree.root() == ROOT_HASHES[0]
    for i, data in enumerate(LEAF_INPUTS):
        assert tree.append_data(data) == i
        assert tree.frontier.nodes == COMPACT_TREES[i + 1]
        assert tree.root() == ROOT_HASHES[i + 1]
        assert CompactRange.from_store(tree.store, i + 1) == tree.frontier


def test_append_reports_exactly_the_nodes_it_completes() -> None:
    cr = CompactRange()
    created = [cr.append(x) for x in LEAF_HASHES]
    assert [[a for a, _ in c] for c in created] == [
        [NodeAddr(0, 0)],
        [NodeAddr(0, 1), NodeAddr(1, 0)],
        [NodeAddr(0, 2)],
        [NodeAddr(0, 3), NodeAddr(1, 1), NodeAddr(2, 0)],
        [NodeAddr(0, 4)],
        [NodeAddr(0, 5), NodeAddr(1, 2)],
        [NodeAddr(0, 6)],
        [NodeAddr(0, 7), NodeAddr(1, 3), NodeAddr(2, 1), NodeAddr(3, 0)],
    ]
    with pytest.raises(ValueError):
        cr.append(b"short")
    with pytest.raises(ValueError):
        CompactRange(3, [LEAF_HASHES[0]])


# --- inclusion proofs ---------------------------------------------------------------------


def corrupt_inclusion(
    index: int, size: int, proof: list[bytes], root_hash: bytes, leaf: bytes
) -> list[tuple[str, int, int, list[bytes], bytes, bytes]]:
    """corruptInclusionProof of proof/verify_test.go (9ca563d)."""
    out = [
        ("leafIndex - 1", index - 1, size, proof, root_hash, leaf),
        ("leafIndex + 1", index + 1, size, proof, root_hash, leaf),
        ("leafIndex ^ 2", index ^ 2, size, proof, root_hash, leaf),
        ("treeSize * 2", index, size * 2, proof, root_hash, leaf),
        ("treeSize / 2", index, size // 2, proof, root_hash, leaf),
        ("wrong leaf", index, size, proof, root_hash, b"WrongLeaf"),
        ("empty root", index, size, proof, EMPTY_TREE_HASH, leaf),
        ("random root", index, size, proof, SOME_HASH, leaf),
        ("trailing garbage", index, size, [*proof, b""], root_hash, leaf),
        ("trailing root", index, size, [*proof, root_hash], root_hash, leaf),
        ("preceding garbage", index, size, [b"", *proof], root_hash, leaf),
        ("preceding root", index, size, [root_hash, *proof], root_hash, leaf),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        out.append((f"modified proof[{i}] bit 3", index, size, wrong, root_hash, leaf))
    if proof:
        out.append(("removed component", index, size, proof[:-1], root_hash, leaf))
    if len(proof) > 1:
        out.append(
            ("inserted component", index, size, [SOME_HASH, proof[0], *proof[1:]], root_hash, leaf)
        )
    return out


@pytest.mark.parametrize(("leaf_no", "size", "want"), INCLUSION_PROOFS)
def test_inclusion_proofs_match_the_published_vectors(
    leaf_no: int, size: int, want: list[bytes]
) -> None:
    index = leaf_no - 1
    assert inclusion_proof(index, LEAF_HASHES[:size]) == want
    assert inclusion_proof_at(full_tree().store, index, size) == want
    leaf = LEAF_HASHES[index]
    assert root_from_inclusion(leaf, index, size, want) == ROOT_HASHES[size]
    assert verify_inclusion(leaf, index, size, want, ROOT_HASHES[size])


@pytest.mark.parametrize(("leaf_no", "size", "proof"), INCLUSION_PROOFS)
def test_inclusion_verification_refuses_every_published_corruption(
    leaf_no: int, size: int, proof: list[bytes]
) -> None:
    index = leaf_no - 1
    probes = corrupt_inclusion(index, size, proof, ROOT_HASHES[size], LEAF_HASHES[index])
    accepted = [desc for desc, i, n, p, r, lf in probes if verify_inclusion(lf, i, n, p, r)]
    assert accepted == []


def test_inclusion_fails_for_a_changed_leaf_path_node_root_index_or_size() -> None:
    index, size = 5, 8
    proof = inclusion_proof(index, LEAF_HASHES)
    good = (LEAF_HASHES[index], index, size, proof, ROOT_HASHES[size])
    assert verify_inclusion(*good)
    assert not verify_inclusion(leaf_hash(b"\x40\x41\x42\x44"), index, size, proof, ROOT_HASHES[8])
    changed = [proof[0], bytes([proof[1][0] ^ 1]) + proof[1][1:], proof[2]]
    assert not verify_inclusion(LEAF_HASHES[index], index, size, changed, ROOT_HASHES[8])
    assert not verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOT_HASHES[7])
    assert not verify_inclusion(LEAF_HASHES[index], 4, size, proof, ROOT_HASHES[8])
    assert not verify_inclusion(LEAF_HASHES[index], index, 6, proof, ROOT_HASHES[8])
    assert not verify_inclusion(LEAF_HASHES[index], index, 16, proof, ROOT_HASHES[8])
    # (Sizes 7 and 8 give leaf 5 the same path shape, so this path also verifies
    # with size 7 against the size-8 root: the size is bound by the signed tree
    # head, never by the path alone.)


# testdata/inclusion/additional/{0..3} and testdata/inclusion/single-entry (417fb0c):
# (desc, leafIdx, treeSize, root, leafHash, proof, wantErr)
_DATA = h("0d3aed023148ffd2a259fbd0cdc7fb3cf975658760d3775b82af6f90aacc2dfc")  # leaf "data"
INCLUSION_EDGE_PROBES = [
    (f"additional/{d}/{name}", idx, size, r, lf, True)
    for d, (idx, size) in enumerate([(0, 0), (0, 1), (1, 0), (2, 1)])
    for name, r, lf in [
        ("empty-root-and-random-leaf", EMPTY_TREE_HASH, SOME_HASH),
        ("empty-root", EMPTY_TREE_HASH, b""),
        ("random-leaf", b"", SOME_HASH),
    ]
] + [
    ("single-entry/empty-leaf", 0, 1, _DATA, b"", True),
    ("single-entry/empty-root-and-leaf", 0, 1, b"", b"", True),
    ("single-entry/empty-root", 0, 1, b"", _DATA, True),
    ("single-entry/matching-root-and-leaf", 0, 1, _DATA, _DATA, False),
]


@pytest.mark.parametrize(
    ("desc", "index", "size", "root_hash", "leaf", "want_err"), INCLUSION_EDGE_PROBES
)
def test_inclusion_edge_probes(
    desc: str, index: int, size: int, root_hash: bytes, leaf: bytes, want_err: bool
) -> None:
    assert verify_inclusion(leaf, index, size, [], root_hash) is not want_err, desc


def test_inclusion_proof_refuses_an_index_outside_the_tree() -> None:
    for index, size in [(0, 0), (8, 8), (-1, 8)]:
        with pytest.raises(ValueError):
            inclusion_proof(index, LEAF_HASHES[:size])
        with pytest.raises(ValueError):
            inclusion_addresses(index, size)


# --- consistency proofs -------------------------------------------------------------------


def corrupt_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> list[tuple[str, int, int, bytes, bytes, list[bytes]]]:
    """corruptConsistencyProof of proof/verify_test.go (9ca563d)."""
    out = [
        ("size1 - 1", size1 - 1, size2, root1, root2, proof),
        ("size1 + 1", size1 + 1, size2, root1, root2, proof),
        ("size1 ^ 2", size1 ^ 2, size2, root1, root2, proof),
        ("size2 * 2", size1, size2 * 2, root1, root2, proof),
        ("size2 / 2", size1, size2 // 2, root1, root2, proof),
        ("wrong root1", size1, size2, b"WrongRoot", root2, proof),
        ("wrong root2", size1, size2, root1, b"WrongRoot", proof),
        ("swapped roots", size1, size2, root2, root1, proof),
        ("empty proof", size1, size2, root1, root2, []),
        ("trailing garbage", size1, size2, root1, root2, [*proof, b""]),
        ("trailing root1", size1, size2, root1, root2, [*proof, root1]),
        ("trailing root2", size1, size2, root1, root2, [*proof, root2]),
        ("preceding garbage", size1, size2, root1, root2, [b"", *proof]),
        ("preceding root1", size1, size2, root1, root2, [root1, *proof]),
        ("preceding root2", size1, size2, root1, root2, [root2, *proof]),
        ("preceding proof[0]", size1, size2, root1, root2, [proof[0], *proof]),
        ("truncated proof", size1, size2, root1, root2, proof[:-1]),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        out.append((f"modified proof[{i}] bit 4", size1, size2, root1, root2, wrong))
    return out


@pytest.mark.parametrize(("size1", "size2", "want"), CONSISTENCY_PROOFS)
def test_consistency_proofs_match_the_published_vectors(
    size1: int, size2: int, want: list[bytes]
) -> None:
    assert consistency_proof(size1, size2, LEAF_HASHES) == want
    assert consistency_proof_at(full_tree().store, size1, size2) == want
    assert verify_consistency(size1, size2, ROOT_HASHES[size1], ROOT_HASHES[size2], want)


@pytest.mark.parametrize(("size1", "size2", "proof"), [p for p in CONSISTENCY_PROOFS if p[2]])
def test_consistency_verification_refuses_every_published_corruption(
    size1: int, size2: int, proof: list[bytes]
) -> None:
    probes = corrupt_consistency(size1, size2, ROOT_HASHES[size1], ROOT_HASHES[size2], proof)
    accepted = [desc for desc, m, n, r1, r2, p in probes if verify_consistency(m, n, r1, r2, p)]
    assert accepted == []


def test_consistency_fails_after_a_rewrite_of_an_earlier_leaf() -> None:
    proof = consistency_proof(6, 8, LEAF_HASHES)
    rewritten = list(LEAF_HASHES)
    rewritten[2] = leaf_hash(b"\x11")
    assert verify_consistency(6, 8, ROOT_HASHES[6], ROOT_HASHES[8], proof)
    new_root = root(rewritten)
    new_proof = consistency_proof(6, 8, rewritten)
    assert not verify_consistency(6, 8, ROOT_HASHES[6], new_root, new_proof)
    assert not verify_consistency(6, 8, ROOT_HASHES[6], new_root, proof)


DONT_CARE_1 = b"don't care 1"
DONT_CARE_2 = b"don't care 2"

# testdata/consistency/additional (417fb0c): (desc, size1, size2, root1, root2, proof, wantErr)
CONSISTENCY_EDGE_PROBES = [
    (
        "empty-tree-size1-is-zero-is-useless",
        0,
        1,
        EMPTY_TREE_HASH,
        EMPTY_TREE_HASH,
        [EMPTY_TREE_HASH],
        True,
    ),
    ("roots-do-not-match-and-sizes-are-zero", 0, 0, EMPTY_TREE_HASH, DONT_CARE_2, [], True),
    ("roots-do-not-not-match-and-sizes-are-one", 1, 1, EMPTY_TREE_HASH, DONT_CARE_2, [], True),
    ("size1-is-greater-than-size2-again", 2, 1, DONT_CARE_1, DONT_CARE_2, [], True),
    ("size1-is-greater-than-size2", 1, 0, DONT_CARE_1, DONT_CARE_2, [], True),
    ("size1-is-zero-and-does-not-equal-size2", 0, 1, DONT_CARE_1, DONT_CARE_2, [], True),
    ("size1-is-zero-and-size2-is-not-zero", 0, 1, EMPTY_TREE_HASH, DONT_CARE_2, [], True),
    ("sizes-are-equal-one-and-proof-is-empty", 1, 1, DONT_CARE_2, DONT_CARE_2, [], False),
    ("sizes-are-equal-one-but-roots-are-not", 1, 1, DONT_CARE_1, DONT_CARE_2, [], True),
    ("sizes-are-equal-zero-and-proof-is-empty", 0, 0, DONT_CARE_1, DONT_CARE_1, [], True),
    ("sizes-are-equal-zero-but-roots-are-not", 0, 0, DONT_CARE_1, DONT_CARE_2, [], True),
    ("sizes-do-not-watch-and-proof-is-empty", 1, 2, DONT_CARE_1, DONT_CARE_2, [], True),
    (
        "sizes-match-but-proof-is-not-empty-and-sizes-are-one",
        1,
        1,
        EMPTY_TREE_HASH,
        EMPTY_TREE_HASH,
        [EMPTY_TREE_HASH],
        True,
    ),
    (
        "sizes-match-but-proof-is-not-empty-and-sizes-are-zero",
        0,
        0,
        EMPTY_TREE_HASH,
        EMPTY_TREE_HASH,
        [EMPTY_TREE_HASH],
        True,
    ),
]


@pytest.mark.parametrize(
    ("desc", "size1", "size2", "root1", "root2", "proof", "want_err"), CONSISTENCY_EDGE_PROBES
)
def test_consistency_edge_probes(
    desc: str,
    size1: int,
    size2: int,
    root1: bytes,
    root2: bytes,
    proof: list[bytes],
    want_err: bool,
) -> None:
    assert verify_consistency(size1, size2, root1, root2, proof) is not want_err, desc


def test_consistency_proof_refuses_sizes_out_of_order() -> None:
    for m, n in [(0, 3), (6, 3), (0, 0)]:
        with pytest.raises(ValueError):
            consistency_proof(m, n, LEAF_HASHES)
        with pytest.raises(ValueError):
            consistency_addresses(m, n)


# --- every proof of the 8-leaf tree, both ways ------------------------------------------------


def test_all_proofs_of_the_published_tree_verify_both_ways() -> None:
    store = full_tree().store
    for size in range(1, 9):
        for index in range(size):
            proof = inclusion_proof(index, LEAF_HASHES[:size])
            assert inclusion_proof_at(store, index, size) == proof
            assert verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOT_HASHES[size])
        for old in range(1, size + 1):
            cproof = consistency_proof(old, size, LEAF_HASHES)
            assert consistency_proof_at(store, old, size) == cproof
            assert verify_consistency(old, size, ROOT_HASHES[old], ROOT_HASHES[size], cproof)


# --- O(log n) reads of immutable nodes --------------------------------------------------------


class SyntheticStore:
    """Any node of any tree, made up from its address; counts reads and checks that
    each read node is complete at ``size`` (so a stored, immutable node)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.reads = 0

    def get(self, level: int, index: int) -> bytes:
        assert level >= 0 and index >= 0
        assert (index + 1) << level <= self.size, (level, index, self.size)
        self.reads += 1
        return hashlib.sha256(f"{level}/{index}".encode()).digest()


@pytest.mark.parametrize("size", [1, 2, 3, 1000, 1_000_000, 2**40 - 1, 2**40, 2**40 + 12345])
def test_stored_proofs_read_only_complete_nodes_and_logarithmically_many(size: int) -> None:
    bound = 2 * size.bit_length() + 2
    cases: list[Callable[[SyntheticStore], object]] = [
        lambda s: root_at(s, size),
        lambda s: inclusion_proof_at(s, 0, size),
        lambda s: inclusion_proof_at(s, size - 1, size),
        lambda s: inclusion_proof_at(s, size // 3, size),
        lambda s: consistency_proof_at(s, 1, size),
        lambda s: consistency_proof_at(s, max(1, size // 2 + 1), size),
        lambda s: consistency_proof_at(s, max(1, size - 1), size),
    ]
    for case in cases:
        store = SyntheticStore(size)
        case(store)
        assert store.reads <= bound


def test_needed_addresses_is_a_one_query_prefetch() -> None:
    full = full_tree().store
    groups = inclusion_addresses(2, 7)
    prefetched = DictNodeStore({a: full.nodes[a] for a in needed_addresses(groups)})
    assert inclusion_proof_at(prefetched, 2, 7) == inclusion_proof(2, LEAF_HASHES[:7])
    cgroups = consistency_addresses(3, 7)
    prefetched = DictNodeStore.of({a: full.nodes[a] for a in needed_addresses(cgroups)})
    assert consistency_proof_at(prefetched, 3, 7) == consistency_proof(3, 7, LEAF_HASHES)


# --- properties: the stored functions equal the RFC's recursive definitions -------------------


@st.composite
def trees(draw: st.DrawFn) -> list[bytes]:
    leaves = draw(st.lists(st.binary(max_size=8), min_size=1, max_size=70))
    return [leaf_hash(x) for x in leaves]


@settings(max_examples=60, deadline=None)
@given(leaves=trees(), data=st.data())
def test_stored_proofs_equal_the_recursive_definitions(
    leaves: list[bytes], data: st.DataObject
) -> None:
    tree = MemoryTree()
    for x in leaves:
        tree.append(x)
    n = len(leaves)
    assert tree.root() == root(leaves)
    size = data.draw(st.integers(1, n), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(1, size), label="old")
    prefix = leaves[:size]
    r = root(prefix)
    assert root_at(tree.store, size) == r
    assert CompactRange.from_store(tree.store, size).root() == r

    path = inclusion_proof_at(tree.store, index, size)
    assert path == inclusion_proof(index, prefix)
    assert verify_inclusion(leaves[index], index, size, path, r)
    other = leaf_hash(b"not a leaf of this tree")
    assert not verify_inclusion(other, index, size, path, r)
    if path:
        k = data.draw(st.integers(0, len(path) - 1), label="flip")
        bad = [*path[:k], bytes([path[k][0] ^ 1]) + path[k][1:], *path[k + 1 :]]
        assert not verify_inclusion(leaves[index], index, size, bad, r)

    cproof = consistency_proof_at(tree.store, old, size)
    assert cproof == consistency_proof(old, size, leaves)
    old_root = root(leaves[:old])
    assert verify_consistency(old, size, old_root, r, cproof)
    if old < size:
        assert not verify_consistency(old, size, old_root, other, cproof)
        assert not verify_consistency(old, size, other, r, cproof)


def test_range_addresses_decompose_any_range_into_aligned_perfect_subtrees() -> None:
    assert range_addresses(0, 0) == []
    assert range_addresses(0, 7) == [NodeAddr(2, 0), NodeAddr(1, 2), NodeAddr(0, 6)]
    assert range_addresses(3, 9) == [NodeAddr(0, 3), NodeAddr(2, 1), NodeAddr(0, 8)]
    assert range_addresses(4, 8) == [NodeAddr(2, 1)]


# --- the ledger's leaf: docs/MERKLE.md's vector ------------------------------------------------


def test_leaf_of_the_documented_chain_vector() -> None:
    """The event of docs/AUDIT.md's chain test vector as a Merkle leaf: the leaf is
    encode_event(...) (the chain's input without the previous hash). The value was
    computed here, so this pins the documentation, it does not check the RFC."""
    args = (
        1,
        1,
        "6f1c0a52-8d0e-5b8e-9c43-2a9e0f6c1b7d",
        1,
        "aggregates.unit:Unit.Registered",
        '{"name":"拉萨"}'.encode(),
    )
    assert next_chain_hash(GENESIS_HASH, *args) == (
        "0070d8706de2e15cd2ba55601052d6722766035d2e5400d9204d6ea5a46c6e1b"
    )
    leaf = encode_event(*args)
    assert len(leaf) == 135
    assert leaf_hash(leaf) == h("f1055e7e706e2b5092876277b9620cec6abb454f94c08a64180cfbaa77501eb8")
    assert leaf_hash(leaf) == hashlib.sha256(b"\x00" + leaf).digest()
