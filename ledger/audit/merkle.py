"""A Merkle tree over the ledger's events, exactly as RFC 9162 §2.1 defines it.

Hashing (RFC 9162 §2.1.1, identical to RFC 6962 §2.1)::

    MTH({})        = SHA-256()                       (the empty tree)
    leaf hash      = SHA-256(0x00 || leaf)
    node hash      = SHA-256(0x01 || left || right)
    MTH(D[n])      = node(MTH(D[0:k]), MTH(D[k:n]))  k = largest power of 2 < n

Two ways to get roots and proofs:

* the **recursive reference** functions (:func:`root`, :func:`inclusion_proof`,
  :func:`consistency_proof`) follow the RFC's definitions over a list of leaf
  hashes, O(n) — what the tests compare everything else against;
* the **stored** functions (:func:`root_at`, :func:`inclusion_proof_at`,
  :func:`consistency_proof_at`) read *perfect-subtree nodes* from a
  :class:`NodeStore`, O(log n) reads.

Node addressing: ``(level, index)`` is the root of the perfect subtree over the
leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 is a leaf hash. A
node exists once the tree has ``(index + 1) * 2**level`` leaves and never changes
afterwards, so the nodes written for size n serve every proof for a size <= n.
Appending a leaf creates the leaf node and one node per level it completes
(:meth:`CompactRange.append` returns them), to be stored in the same transaction
as the event: a table ``merkle_nodes(level, idx, hash)``.

The ``*_addresses`` functions say which nodes a root or proof needs, so a
database-backed store can read them all in one query (:class:`DictNodeStore`).

Verification (:func:`verify_inclusion`, :func:`verify_consistency`) is the
iterative algorithm of RFC 9162 §2.1.3.2 and §2.1.4.2, needing only hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


# --- hashing ---------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of 2 strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


# --- the RFC's recursive definitions (reference, O(n)) -----------------------------------


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves; the empty tree is SHA-256 of nothing."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _largest_power_of_two_below(n)
    return node_hash(root(leaf_hashes[:k]), root(leaf_hashes[k:]))


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1, the audit path of leaf ``index``."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        msg = f"leaf index {index} is not in a tree of size {n}"
        raise ValueError(msg)
    return _path(index, leaf_hashes)


def _path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _largest_power_of_two_below(n)
    if m < k:
        return [*_path(m, d[:k]), root(d[k:])]
    return [*_path(m - k, d[k:]), root(d[:k])]


def consistency_proof(old_size: int, new_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 9162 §2.1.4.1 over the first
    ``new_size`` leaf hashes. Defined for 0 < old_size <= new_size (empty when equal)."""
    if not 0 < old_size <= new_size <= len(leaf_hashes):
        msg = f"no consistency proof from size {old_size} to size {new_size}"
        raise ValueError(msg)
    return _subproof(old_size, leaf_hashes[:new_size], True)


def _subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [root(d)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return [*_subproof(m, d[:k], b), root(d[k:])]
    return [*_subproof(m - k, d[k:], False), root(d[:k])]


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) --------------------------------------


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2 steps 1-4), or
    None when the proof cannot be one for ``index`` in a tree of ``size``."""
    if not 0 <= index < size or len(leaf) != HASH_SIZE:
        return None
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """True iff ``proof`` shows the leaf hash ``leaf`` at ``index`` in the tree of
    ``size`` leaves whose root is ``root_hash`` (RFC 9162 §2.1.3.2)."""
    r = root_from_inclusion(leaf, index, size, proof)
    return r is not None and r == root_hash


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """True iff ``proof`` shows that the tree of ``new_size`` leaves with root
    ``new_root`` extends the tree of ``old_size`` leaves with root ``old_root``
    (RFC 9162 §2.1.4.2). Equal sizes need an empty proof and equal roots; a
    proof from the empty tree is meaningless and refused, as in
    transparency-dev/merkle."""
    if old_size <= 0 or new_size < old_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False  # step 1
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)  # step 2
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root  # step 7


# --- stored perfect-subtree nodes ---------------------------------------------------------


class NodeAddr(NamedTuple):
    """The root of the perfect subtree over leaves ``[idx << level, (idx + 1) << level)``
    (``idx``, as the column of ``merkle_nodes``: ``index`` is a tuple method)."""

    level: int
    idx: int


class NodeStore(Protocol):
    """Where perfect-subtree nodes are kept (a dict, or the ``merkle_nodes`` table)."""

    def get(self, level: int, index: int) -> bytes:
        """The hash of node ``(level, index)``; raises ``KeyError`` if it is not stored."""
        ...


@dataclass
class DictNodeStore:
    """A :class:`NodeStore` over a mapping; also what a database-backed reader
    returns after fetching the addresses a proof needs in one query."""

    nodes: dict[NodeAddr, bytes] = field(default_factory=dict)

    def get(self, level: int, index: int) -> bytes:
        return self.nodes[NodeAddr(level, index)]

    def put_all(self, nodes: Iterable[tuple[NodeAddr, bytes]]) -> None:
        for addr, h in nodes:
            self.nodes[NodeAddr(addr.level, addr.idx)] = h

    @classmethod
    def of(cls, nodes: Mapping[tuple[int, int], bytes]) -> DictNodeStore:
        return cls({NodeAddr(lv, ix): h for (lv, ix), h in nodes.items()})


def range_addresses(start: int, end: int) -> list[NodeAddr]:
    """The perfect subtrees that make up leaves ``[start, end)``, left to right,
    largest first. For a range that is a subtree of the RFC's recursion (``start``
    a multiple of the largest power of 2 below ``end - start``), folding their
    hashes from the right (:func:`fold`) gives MTH of the range."""
    out: list[NodeAddr] = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start & ((1 << level) - 1):
            level -= 1
        out.append(NodeAddr(level, start >> level))
        start += 1 << level
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """``node(h0, node(h1, ... node(h[-2], h[-1])))``: MTH from a range's perfect
    subtrees (:func:`range_addresses`); the empty root for none."""
    if not hashes:
        return EMPTY_ROOT
    r = hashes[-1]
    for h in reversed(hashes[:-1]):
        r = node_hash(h, r)
    return r


def root_addresses(size: int) -> list[NodeAddr]:
    """The nodes the root of the tree of ``size`` leaves is folded from (the
    compact range ``[0, size)``: one per set bit of ``size``)."""
    return range_addresses(0, size)


def inclusion_addresses(index: int, size: int) -> list[list[NodeAddr]]:
    """For each element of PATH(index, D[size]), leaf-side first, the nodes it is
    folded from; at most one element needs more than one node."""
    if not 0 <= index < size:
        msg = f"leaf index {index} is not in a tree of size {size}"
        raise ValueError(msg)
    out: list[list[NodeAddr]] = []
    start, n, m = 0, size, index
    while n > 1:
        k = _largest_power_of_two_below(n)
        if m < k:
            out.append(range_addresses(start + k, start + n))
            n = k
        else:
            out.append(range_addresses(start, start + k))
            start, n, m = start + k, n - k, m - k
    out.reverse()
    return out


def consistency_addresses(old_size: int, new_size: int) -> list[list[NodeAddr]]:
    """For each element of PROOF(old_size, D[new_size]), in order, the nodes it
    is folded from."""
    if not 0 < old_size <= new_size:
        msg = f"no consistency proof from size {old_size} to size {new_size}"
        raise ValueError(msg)
    out: list[list[NodeAddr]] = []
    start, n, m, b = 0, new_size, old_size, True
    while m != n:
        k = _largest_power_of_two_below(n)
        if m <= k:
            out.append(range_addresses(start + k, start + n))
            n = k
        else:
            out.append(range_addresses(start, start + k))
            start, n, m, b = start + k, n - k, m - k, False
    if not b:
        out.append(range_addresses(start, start + n))
    out.reverse()
    return out


def _read(store: NodeStore, addrs: Sequence[NodeAddr]) -> bytes:
    return fold([store.get(a.level, a.idx) for a in addrs])


def root_at(store: NodeStore, size: int) -> bytes:
    """MTH of the first ``size`` leaves from stored nodes (popcount(size) reads)."""
    return _read(store, root_addresses(size))


def inclusion_proof_at(store: NodeStore, index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]) from stored nodes, O(log size) reads."""
    return [_read(store, addrs) for addrs in inclusion_addresses(index, size)]


def consistency_proof_at(store: NodeStore, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]) from stored nodes, O(log new_size) reads."""
    return [_read(store, addrs) for addrs in consistency_addresses(old_size, new_size)]


def needed_addresses(groups: Iterable[Sequence[NodeAddr]]) -> list[NodeAddr]:
    """The distinct addresses of :func:`inclusion_addresses` /
    :func:`consistency_addresses`, for a one-query prefetch."""
    seen: dict[NodeAddr, None] = {}
    for group in groups:
        for a in group:
            seen[a] = None
    return list(seen)


# --- appending: the compact range (frontier) ----------------------------------------------


@dataclass
class CompactRange:
    """The right edge of the tree of ``size`` leaves: the roots of the perfect
    subtrees of ``[0, size)`` (:func:`root_addresses`), largest first. Appending a
    leaf costs O(log n) hashes and reports the nodes it completed."""

    size: int = 0
    nodes: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.nodes) != self.size.bit_count():
            msg = f"a compact range of size {self.size} has {self.size.bit_count()} nodes"
            raise ValueError(msg)

    @classmethod
    def from_store(cls, store: NodeStore, size: int) -> CompactRange:
        """The frontier at ``size`` read back from stored nodes (popcount reads)."""
        return cls(size, [store.get(a.level, a.idx) for a in root_addresses(size)])

    def append(self, leaf: bytes) -> list[tuple[NodeAddr, bytes]]:
        """Add one leaf hash; return the nodes that now exist and did not before
        (the leaf itself, then each parent it completes), to be stored."""
        if len(leaf) != HASH_SIZE:
            msg = f"a leaf hash has {HASH_SIZE} bytes, not {len(leaf)}"
            raise ValueError(msg)
        index = self.size
        created = [(NodeAddr(0, index), leaf)]
        h, level = leaf, 0
        while index & 1:
            h = node_hash(self.nodes.pop(), h)
            index >>= 1
            level += 1
            created.append((NodeAddr(level, index), h))
        self.nodes.append(h)
        self.size += 1
        return created

    def root(self) -> bytes:
        return fold(self.nodes)


@dataclass
class MemoryTree:
    """An in-memory tree: a :class:`CompactRange` writing into a :class:`DictNodeStore`
    (what the database version does row by row)."""

    store: DictNodeStore = field(default_factory=DictNodeStore)
    frontier: CompactRange = field(default_factory=CompactRange)

    @property
    def size(self) -> int:
        return self.frontier.size

    def append_data(self, data: bytes) -> int:
        """Append ``leaf_hash(data)``; return its leaf index."""
        return self.append(leaf_hash(data))

    def append(self, leaf: bytes) -> int:
        index = self.frontier.size
        self.store.put_all(self.frontier.append(leaf))
        return index

    def root(self, size: int | None = None) -> bytes:
        return self.frontier.root() if size is None else root_at(self.store, size)
