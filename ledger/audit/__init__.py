"""The audit trail, one room per capability:

- :mod:`ledger.audit.verify`: the chain verifier, reading the chain from the
  database, ``audit verify``;
- :mod:`ledger.audit.export`: the JSON Lines export, and verifying it offline;
- :mod:`ledger.audit.keys`: Ed25519 keys, the signed checkpoint document and
  its checking;
- :mod:`ledger.audit.checkpoints`: signing the verified head, recording and
  listing checkpoints;
- :mod:`ledger.audit.roles`: the PostgreSQL roles and the append-only tables;
- :mod:`ledger.audit.merkle`, :mod:`~ledger.audit.merkle_store`,
  :mod:`~ledger.audit.proofs`, :mod:`~ledger.audit.pack`,
  :mod:`~ledger.audit.verify_pack`: the Merkle tree over the chain, its
  proofs and the audit pack (docs/AUDIT.md §8-§12).

The names callers use are importable from here: ``audit.verify(cfg)``.
"""

from __future__ import annotations

from ledger.audit.checkpoints import checkpoint, list_checkpoints
from ledger.audit.export import EXPORT_FORMAT, export, verify_export
from ledger.audit.keys import (
    CHECKPOINT_FORMAT,
    check_checkpoint_document,
    checkpoint_message,
    key_id_of,
    keygen,
    load_checkpoint,
)
from ledger.audit.roles import APPEND_ONLY_TABLES, create_roles
from ledger.audit.verify import (
    BATCH,
    ChainRow,
    ChainVerifier,
    Progress,
    terminal_progress,
    verify,
)

__all__ = [
    "APPEND_ONLY_TABLES",
    "BATCH",
    "CHECKPOINT_FORMAT",
    "EXPORT_FORMAT",
    "ChainRow",
    "ChainVerifier",
    "Progress",
    "check_checkpoint_document",
    "checkpoint",
    "checkpoint_message",
    "create_roles",
    "export",
    "key_id_of",
    "keygen",
    "list_checkpoints",
    "load_checkpoint",
    "terminal_progress",
    "verify",
    "verify_export",
]
