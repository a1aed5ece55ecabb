"""docs/AUDIT.md §8's test vectors: three ledger events as leaves, their leaf
hashes and the roots of the trees of 2 and 3 leaves; and the stand-alone
verify_pack.py computes the same bytes as the product."""

from __future__ import annotations

from ledger.audit import verify_pack
from ledger.audit.merkle import inclusion_proof, leaf_hash, root, verify_inclusion
from ledger.store.chain import chain_record_bytes, encode_event

OID = "6f1c0a52-8d0e-5b8e-9c43-2a9e0f6c1b7d"
EVENTS = [
    (1, 1, OID, 1, "aggregates.unit:Unit.Registered", '{"name":"拉萨"}'.encode()),
    (2, 2, OID, 2, "aggregates.unit:Unit.Renamed", '{"name":"日喀则"}'.encode()),
    (
        3,
        5,
        "0b7e5a3c-41d2-4f7e-8a9b-1c2d3e4f5a6b",
        1,
        "aggregates.platform:Platform.Proposed",
        b'{"code":"LS-KL-001"}',
    ),
]


def test_the_documented_leaves_and_roots() -> None:
    leaves = [chain_record_bytes(*e) for e in EVENTS]
    assert [len(x) for x in leaves] == [135, 135, 144]
    assert leaves[1].hex() == (
        "0000000000000001" "32" "0000000000000001" "32"
        "0000000000000024"
        "36663163306135322d386430652d356238652d396334332d326139653066366331623764"
        "0000000000000001" "32"
        "000000000000001c" "616767726567617465732e756e69743a556e69742e52656e616d6564"
        "0000000000000014" "7b226e616d65223a22e697a5e59680e58899227d"
    )  # fmt: skip
    hashes = [leaf_hash(x) for x in leaves]
    assert [h.hex() for h in hashes] == [
        "f1055e7e706e2b5092876277b9620cec6abb454f94c08a64180cfbaa77501eb8",
        "e8363d50537b86562e6fe122db40d52547206d17795fe471209567abf17c56b4",
        "5e301d3d04fe02e842aeef60b8e052a7d4ad6580a2b1d033998d1ae6c43e76d2",
    ]
    assert root(hashes[:2]).hex() == (
        "550ad0fbcc26a4cf2fcd3288548b4014ede7c8a37c7fdc88faf9a13a8f6f7847"
    )
    assert root(hashes).hex() == (
        "a9403bbcc513e33755a58f299028b36ed30b0ace37fb702c650ea96a9ad1396d"
    )
    # the chain hashes the same bytes after the previous hash (encoding v1's old name)
    assert encode_event(*EVENTS[0]) == leaves[0]


def test_the_stand_alone_verifier_computes_the_same_bytes() -> None:
    leaves = [chain_record_bytes(*e) for e in EVENTS]
    hashes = [leaf_hash(x) for x in leaves]
    for (seq, nid, oid, version, topic, state), leaf in zip(EVENTS, leaves, strict=True):
        event = {
            "seq": seq,
            "notification_id": nid,
            "originator_id": oid,
            "version": version,
            "topic": topic,
            "state": state.decode("utf-8"),
            "state_encoding": "utf-8",
        }
        assert verify_pack.leaf_bytes(event) == leaf
        assert verify_pack.leaf_hash(leaf) == leaf_hash(leaf)
        path = inclusion_proof(seq - 1, hashes)
        assert verify_inclusion(hashes[seq - 1], seq - 1, 3, path, root(hashes))
        assert verify_pack.root_from_path(hashes[seq - 1], seq - 1, 3, path) == root(hashes)
    # the size comes from the signed head: leaf 0's path is the same in a tree of 4
    path0 = inclusion_proof(0, hashes)
    assert verify_pack.root_from_path(hashes[0], 0, 4, path0) == root(hashes)
    assert verify_pack.root_from_path(hashes[2], 2, 4, inclusion_proof(2, hashes)) != root(hashes)
    # the 32-hex form SQLite stores is the same id
    assert verify_pack.canonical_uuid(OID.replace("-", "")) == OID
    assert verify_pack.canonical_uuid(OID.upper()) == OID.upper()
