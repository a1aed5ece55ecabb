"""`ledger audit prove | consistency | verify-proof | cosign | pack`: proofs an
auditor can carry away (issue 16, docs/AUDIT.md §8-§12). Registered on the
`audit` group by commands/audit.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from aggregates.errors import InvalidInput
from commands._common import FORMATS, Ctx, common
from ledger import output


def _key_id(value: str | None, option: str = "--key-id") -> str | None:
    if value is not None and not re.fullmatch(r"[0-9a-fA-F]{16}", value.strip()):
        raise InvalidInput(
            f"invalid {option} {value!r}: a key id is the 16 hex digits `audit keygen` printed"
        )
    return None if value is None else value.strip().lower()


def _read_json(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InvalidInput(f"cannot read {what} {path}: {str(e).splitlines()[0]}") from None


def _emit(doc: dict[str, Any], out_path: str | None) -> None:
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    if out_path is None:
        click.echo(text)
        return
    try:
        Path(out_path).write_text(text + "\n", encoding="utf-8")
    except OSError as e:
        raise InvalidInput(f"cannot write {out_path}: {str(e).splitlines()[0]}") from None
    click.echo(f"written to {out_path}")


def _load_checkpoint(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    from ledger.audit.keys import load_checkpoint

    return load_checkpoint(path)


@click.command("prove")
@click.argument("seq", type=int)
@click.option(
    "--checkpoint",
    "checkpoint_path",
    default=None,
    metavar="FILE",
    help="the signed tree head to prove against (default: the newest recorded one covering SEQ)",
)
@click.option("--out", "out_path", default=None, metavar="FILE", help="write the proof here")
@common(prints=False)
def audit_prove(ctx: Ctx, seq: int, checkpoint_path: str | None, out_path: str | None) -> None:
    """The inclusion proof of the event at SEQ in a signed tree head, as JSON:
    leaf index, tree size, the leaf (the event's chain record bytes), its hash,
    the audit path and the root (RFC 9162 §2.1.3). `ledger audit verify-proof`
    checks it without the database.

    \b
    Example:
      ledger audit prove 42 --checkpoint checkpoint.json --out proof-42.json
      ledger audit verify-proof proof-42.json --key-id 5734acc5723e623f
    """
    from ledger.audit import proofs
    from ledger.store import db

    cp = _load_checkpoint(checkpoint_path)
    _emit(proofs.prove(db.parse_db_url(ctx.db), seq, cp), out_path)


@click.command("consistency")
@click.argument("old_path", metavar="OLD.json")
@click.argument("new_path", metavar="NEW.json")
@click.option("--out", "out_path", default=None, metavar="FILE", help="write the proof here")
@common(prints=False)
def audit_consistency(ctx: Ctx, old_path: str, new_path: str, out_path: str | None) -> None:
    """The consistency proof that the newer signed tree head extends the older
    (RFC 9162 §2.1.4), as JSON; exit 4 when it does not (an event at or
    before the older head was rewritten).

    \b
    Example:
      ledger audit consistency checkpoint-2026-10.json checkpoint-2026-11.json --out c.json
      ledger audit verify-proof c.json --key-id 5734acc5723e623f
    """
    from ledger.audit import proofs
    from ledger.audit.keys import load_checkpoint
    from ledger.store import db

    old, new = load_checkpoint(old_path), load_checkpoint(new_path)
    _emit(proofs.consistency(db.parse_db_url(ctx.db), old, new), out_path)


@click.command("verify-proof")
@click.argument("proof_path", metavar="PROOF.json")
@click.option(
    "--checkpoint",
    "checkpoint_path",
    default=None,
    metavar="FILE",
    help="the signed tree head it must be against (default: the one in the proof)",
)
@click.option("--key-id", "key_id", default=None, metavar="ID", help="the signer's key id")
@click.option(
    "--witness-key-id",
    "witness_ids",
    multiple=True,
    metavar="ID",
    help="a witness key that must have co-signed the head (repeatable)",
)
@click.option(
    "--format",
    "audit_fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="table (default), json or csv (one row)",
)
@common(prints=False)
def audit_verify_proof(
    ctx: Ctx,
    proof_path: str,
    checkpoint_path: str | None,
    key_id: str | None,
    witness_ids: tuple[str, ...],
    audit_fmt: str | None,
) -> None:
    """Check an inclusion or consistency proof WITHOUT the database: the
    signed head(s), the leaf, the path. Exit 0 when it holds, 4 when it does
    not, 2 when the file is not a proof.

    \b
    Example:
      ledger audit verify-proof proof-42.json --key-id 5734acc5723e623f
      ledger audit verify-proof c.json --key-id 5734acc5723e623f --witness-key-id 9f1c07aa52e4b3d0
    """
    from aggregates.errors import TamperDetected
    from ledger.audit import proofs

    kid = _key_id(key_id)
    witnesses = tuple(w for w in (_key_id(w, "--witness-key-id") for w in witness_ids) if w)
    doc = _read_json(proof_path, "proof")
    result = proofs.verify_proof(doc, _load_checkpoint(checkpoint_path), kid, witnesses)
    fmt = audit_fmt or ctx.format or "table"
    if fmt == "json":
        click.echo(output.to_json(result))
    elif fmt == "csv":
        click.echo(output.to_csv([result]))
    else:
        click.echo(output.to_record({**result, "ok": "yes" if result["ok"] else "NO"}))
    if not result["ok"]:
        raise TamperDetected(f"the {result['kind']} proof does not hold: {result['problem']}")


@click.command("cosign")
@click.argument("checkpoint_path", metavar="CHECKPOINT.json")
@click.option("--key", "key_path", required=True, metavar="WITNESS.pem", help="the witness key")
@click.option(
    "--key-id",
    "key_id",
    default=None,
    metavar="ID",
    help="the signer's published key id: co-sign only what that key signed",
)
@click.option("--out", "out_path", required=True, metavar="FILE", help="the co-signed checkpoint")
@common(prints=False)
def audit_cosign(
    ctx: Ctx, checkpoint_path: str, key_path: str, key_id: str | None, out_path: str
) -> None:
    """A witness (e.g. the audit office) co-signs a published signed tree
    head: the same signed bytes, signed with the witness's key, added to
    `cosignatures`. No database. `audit verify --witness-key-id` then
    requires it.

    \b
    Example:
      ledger audit cosign checkpoint.json --key witness.pem --out checkpoint-witnessed.json
    """
    from ledger.audit.checkpoints import cosign_checkpoint

    signed = cosign_checkpoint(checkpoint_path, key_path, out_path, _key_id(key_id))
    click.echo(f"co-signed by {signed['cosignatures'][-1]['key_id']}; written to {out_path}")


@click.command("pack")
@click.option(
    "--out", "out_path", required=True, metavar="DIR|FILE.zip", help="a new directory, or a .zip"
)
@click.option("--platform", "platform", default=None, metavar="CODE", help="one platform's events")
@click.option("--unit", "unit", default=None, metavar="CODE", help="one unit's events")
@click.option(
    "--checkpoint",
    "checkpoint_path",
    default=None,
    metavar="FILE",
    help="the signed tree head to prove against (default: the newest recorded one)",
)
@click.option(
    "--format",
    "audit_fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="table (default), json or csv (one row)",
)
@common(prints=False)
def audit_pack(
    ctx: Ctx,
    out_path: str,
    platform: str | None,
    unit: str | None,
    checkpoint_path: str | None,
    audit_fmt: str | None,
) -> None:
    """An audit pack to carry away: the events of a platform or unit (all of
    them without --platform/--unit) with their stored bytes, each one's
    inclusion proof against one signed tree head, the head and its key ids,
    the read models' state at the head (funds, debarred, blacklist) with
    digests, and verify_pack.py, which checks it all with Python and
    `cryptography` only.

    \b
    Example:
      ledger audit pack --platform LS-KL-001 --out LS-KL-001-pack
      python3 LS-KL-001-pack/verify_pack.py LS-KL-001-pack --key-id 5734acc5723e623f
      ledger audit pack --unit 91540100MA6T0A0C21 --out unit-pack.zip
    """
    from ledger.audit.pack import pack
    from ledger.store import db

    if platform is not None and unit is not None:
        raise InvalidInput("give --platform or --unit, not both")
    summary = pack(
        db.parse_db_url(ctx.db),
        out_path,
        platform=platform,
        unit=unit,
        checkpoint=_load_checkpoint(checkpoint_path),
    )
    fmt = audit_fmt or ctx.format or "table"
    if fmt == "json":
        click.echo(output.to_json(summary))
    elif fmt == "csv":
        flat = {k: v for k, v in summary.items() if k != "digests"}
        flat.update({f"digest_{k}": v for k, v in summary["digests"].items()})
        click.echo(output.to_csv([flat]))
    else:
        flat = {k: v for k, v in summary.items() if k != "digests"}
        flat.update({f"{k} digest": v for k, v in summary["digests"].items()})
        click.echo(output.to_record(flat))


COMMANDS = [audit_prove, audit_consistency, audit_verify_proof, audit_cosign, audit_pack]
