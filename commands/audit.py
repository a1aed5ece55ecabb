"""`ledger audit …`: verify the hash chain, sign checkpoints, export."""

from __future__ import annotations

import re

import click

from aggregates.errors import InvalidInput
from commands._common import FORMATS, Ctx, common
from ledger import output


@click.group()
def audit() -> None:
    """Prove the history: verify the hash chain, sign checkpoints (signed tree
    heads), export, prove events and consistency, make audit packs.

    \b
    Example:
      ledger audit verify
      ledger audit keygen --out auditor.pem
      ledger audit checkpoint --key auditor.pem --out checkpoint.json
      ledger audit export --out ledger.jsonl
      ledger audit verify --file ledger.jsonl --checkpoint checkpoint.json
      ledger audit prove 42 --checkpoint checkpoint.json --out proof-42.json
      ledger audit verify-proof proof-42.json --key-id 5734acc5723e623f
      ledger audit pack --platform LS-KL-001 --out LS-KL-001-pack
    """


def _audit_format(ctx: Ctx, fmt: str | None) -> str:
    return fmt or ctx.format or "table"


@audit.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_path",
    default=None,
    metavar="FILE",
    help="a signed checkpoint the ledger must extend",
)
@click.option(
    "--file",
    "export_path",
    default=None,
    metavar="EXPORT.jsonl",
    help="verify an export file instead of the database (offline)",
)
@click.option(
    "--key-id",
    "key_id",
    default=None,
    metavar="ID",
    help="the signer's published key id: the checkpoint must be signed by that key",
)
@click.option(
    "--witness-key-id",
    "witness_ids",
    multiple=True,
    metavar="ID",
    help="a witness key that must have co-signed the checkpoint (repeatable)",
)
@click.option(
    "--format",
    "audit_fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="table (default), json or csv (one row)",
)
@common(prints=False)
def audit_verify(
    ctx: Ctx,
    checkpoint_path: str | None,
    export_path: str | None,
    key_id: str | None,
    witness_ids: tuple[str, ...],
    audit_fmt: str | None,
) -> None:
    """Recompute the hash chain and name the first sequence number that no
    longer matches; exit 4 if anything was altered, deleted, inserted or
    reordered, or if the checkpoint does not hold.

    \b
    Example:
      ledger audit verify --format json
      ledger audit verify --checkpoint checkpoint.json --key-id 5734acc5723e623f
      ledger audit verify --file ledger.jsonl --checkpoint checkpoint.json
      ledger audit verify --checkpoint cp.json --key-id 5734acc5723e623f \\
          --witness-key-id 9f1c07aa52e4b3d0
    """
    from aggregates.errors import TamperDetected
    from ledger import audit as audit_mod
    from ledger.store import db

    if key_id is not None and not checkpoint_path:
        raise InvalidInput("--key-id pins the signer of a checkpoint: give --checkpoint FILE too")
    if key_id is not None and not re.fullmatch(r"[0-9a-fA-F]{16}", key_id.strip()):
        raise InvalidInput(
            f"invalid --key-id {key_id!r}: a key id is the 16 hex digits `audit keygen` printed"
        )
    if witness_ids and not checkpoint_path:
        raise InvalidInput(
            "--witness-key-id names a checkpoint's co-signer: give --checkpoint FILE"
        )
    for wid in witness_ids:
        if not re.fullmatch(r"[0-9a-fA-F]{16}", wid.strip()):
            raise InvalidInput(
                f"invalid --witness-key-id {wid!r}: a key id is the 16 hex digits "
                "`audit keygen` printed"
            )
    witnesses = tuple(w.strip().lower() for w in witness_ids)
    cp = audit_mod.load_checkpoint(checkpoint_path) if checkpoint_path else None
    progress = audit_mod.terminal_progress()
    if export_path:
        result = audit_mod.verify_export(
            export_path, cp, progress=progress, trusted_key_id=key_id, witness_key_ids=witnesses
        )
    else:
        result = audit_mod.verify(
            db.parse_db_url(ctx.db),
            checkpoint=cp,
            progress=progress,
            trusted_key_id=key_id,
            witness_key_ids=witnesses,
        )
    fmt = _audit_format(ctx, audit_fmt)
    if fmt == "json":
        click.echo(output.to_json(result))
    elif fmt == "csv":
        cpr = result["checkpoint"]
        row = {k: v for k, v in result.items() if k != "checkpoint"}
        row["checkpoint_seq"] = None if cpr is None else cpr["seq"]
        row["checkpoint_ok"] = None if cpr is None else cpr["ok"]
        click.echo(output.to_csv([row]))
    else:
        shown = dict(result)
        shown["ok"] = "yes" if result["ok"] else "NO"
        cpr = result["checkpoint"]
        shown["checkpoint"] = (
            None if cpr is None else f"seq {cpr['seq']}: {'holds' if cpr['ok'] else 'FAILS'}"
        )
        click.echo(output.to_record(shown))
    if not result["ok"]:
        bad = result["first_bad_seq"]
        where = f" at seq {bad}" if bad is not None else ""
        raise TamperDetected(f"verification failed{where}: {result['problem']}")


@audit.command("keygen")
@click.option(
    "--out",
    "out_path",
    required=True,
    metavar="KEYFILE",
    help="private key (PEM, mode 0600); the public key goes to KEYFILE.pub",
)
@common(prints=False)
def audit_keygen(ctx: Ctx, out_path: str) -> None:
    """Make an Ed25519 signing key pair for checkpoints (never overwrites).

    \b
    Example:
      ledger audit keygen --out auditor.pem
    """
    from ledger import audit as audit_mod

    made = audit_mod.keygen(out_path)
    click.echo(f"private key: {made['private_key']} (keep it secret)")
    click.echo(f"public key:  {made['public_key']}")
    click.echo(f"key id:      {made['key_id']}")


@audit.command("checkpoint")
@click.option("--key", "key_path", required=True, metavar="KEYFILE", help="private key (PEM)")
@click.option(
    "--out",
    "out_path",
    default=None,
    metavar="FILE",
    help="write the signed checkpoint here (JSON) to publish or hand over",
)
@click.option(
    "--cosign",
    "cosign_path",
    default=None,
    metavar="KEYFILE",
    help="a witness's private key that co-signs the same head",
)
@click.option(
    "--format",
    "audit_fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="table (default), json or csv (one row)",
)
@common(prints=False)
def audit_checkpoint(
    ctx: Ctx, key_path: str, out_path: str | None, cosign_path: str | None, audit_fmt: str | None
) -> None:
    """Verify the chain and its Merkle tree, then sign and record a signed
    tree head: sequence number, chain hash, tree size, root hash, time, key id.

    \b
    Example:
      ledger audit checkpoint --key auditor.pem --out checkpoint-2026-11.json
      ledger audit checkpoint --key owner.pem --cosign witness.pem --out checkpoint.json
    """
    from ledger import audit as audit_mod
    from ledger.store import db

    doc = audit_mod.checkpoint(
        db.parse_db_url(ctx.db),
        key_path,
        out_path,
        progress=audit_mod.terminal_progress(),
        cosign_key_path=cosign_path,
    )
    fmt = _audit_format(ctx, audit_fmt)
    if fmt == "json":
        click.echo(output.to_json(doc))
    elif fmt == "csv":
        click.echo(output.to_csv([{k: v for k, v in doc.items() if k != "recorded"}]))
    else:
        click.echo(
            output.to_record(
                {
                    k: doc.get(k)
                    for k in (
                        "seq",
                        "chain_hash",
                        "tree_size",
                        "root_hash",
                        "taken_at",
                        "key_id",
                        "ledger_id",
                    )
                }
            )
        )
        if out_path:
            click.echo(f"written to {out_path}")
        else:
            click.echo(
                "note: the table leaves out the signature and public key; give --out FILE "
                "(or --format json) for the checkpoint to publish",
                err=True,
            )
    if doc.get("recorded") is False:
        click.echo(
            "warning: signed, but not recorded in the ledger's audit_checkpoints "
            "(this database role is read-only); publish the file",
            err=True,
        )


@audit.command("export")
@click.option("--out", "out_path", required=True, metavar="FILE.jsonl")
@click.option(
    "--since",
    type=int,
    default=None,
    metavar="SEQ",
    help="only events after this sequence number (e.g. a checkpoint's)",
)
@common(prints=False)
def audit_export(ctx: Ctx, out_path: str, since: int | None) -> None:
    """Write every event with its metadata and chain hash, in order, as JSON
    Lines; `ledger audit verify --file` checks it without the database.

    \b
    Example:
      ledger audit export --out ledger.jsonl
      ledger audit export --out since-checkpoint.jsonl --since 1200
    """
    from ledger import audit as audit_mod
    from ledger.store import db

    summary = audit_mod.export(db.parse_db_url(ctx.db), out_path, since)
    click.echo(
        f"exported {summary['events']} event(s) after seq {summary['since_seq']} "
        f"to {summary['out']}"
    )


def _register_proof_commands() -> None:
    from commands.audit_proofs import COMMANDS

    for command in COMMANDS:
        audit.add_command(command)


_register_proof_commands()
