"""Issue 16 through the command line, on both backends: checkpoint --cosign,
cosign, verify --witness-key-id, prove, consistency, verify-proof (exit 0 / 4
/ 2, no database), pack; and the pack's verifier in a fresh virtualenv that
has only `cryptography`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from ledger.demo import load_demo
from ledger.service import LedgerService
from tests.scenario import init_ledger


@pytest.fixture
def demo(db_url: str) -> str:
    init_ledger(db_url)
    svc = LedgerService(db_url)
    try:
        load_demo(svc)
    finally:
        svc.close()
    return db_url


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def keygen(path: Path) -> str:
    code, out, err = run("audit", "keygen", "--out", str(path))
    assert code == 0, err
    return out.split("key id:")[1].strip()


def test_prove_verify_proof_and_consistency(demo: str, tmp_path: Path) -> None:
    owner, witness = keygen(tmp_path / "o.pem"), keygen(tmp_path / "w.pem")
    code, _, err = run(
        "--db", demo, "audit", "checkpoint", "--key", str(tmp_path / "o.pem"),
        "--cosign", str(tmp_path / "w.pem"), "--out", str(tmp_path / "old.json"),
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run(
        "--db", demo, "audit", "verify", "--checkpoint", str(tmp_path / "old.json"),
        "--key-id", owner, "--witness-key-id", witness, "--format", "json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["ok"] is True, err
    code, out, err = run(
        "--db", demo, "audit", "verify", "--checkpoint", str(tmp_path / "old.json"),
        "--key-id", owner, "--witness-key-id", owner,
    )  # fmt: skip
    assert code == 4 and "not co-signed" in err
    assert err.count("\n") == 1

    for seq in ("1", "17", "99"):
        proof = tmp_path / f"p{seq}.json"
        code, _, err = run(
            "--db", demo, "audit", "prove", seq, "--checkpoint", str(tmp_path / "old.json"),
            "--out", str(proof),
        )  # fmt: skip
        assert code == 0, err
        # no database: a URL that cannot be reached changes nothing
        code, out, err = run(
            "--db", "postgresql://nobody@127.0.0.1:1/none", "audit", "verify-proof", str(proof),
            "--key-id", owner, "--witness-key-id", witness, "--format", "json",
        )  # fmt: skip
        assert code == 0, err
        assert json.loads(out)["ok"] is True
        doc = json.loads(proof.read_text())
        doc["audit_path"][0] = "0" * 64
        (tmp_path / "bad.json").write_text(json.dumps(doc))
        code, _, err = run("audit", "verify-proof", str(tmp_path / "bad.json"), "--key-id", owner)
        assert code == 4 and "audit path" in err, err
    code, _, err = run("audit", "verify-proof", str(tmp_path / "p1.json"), "--key-id", witness)
    assert code == 4 and "not by the trusted key" in err
    (tmp_path / "junk.json").write_text('{"format": "something else"}')
    code, _, err = run("audit", "verify-proof", str(tmp_path / "junk.json"))
    assert code == 2 and err.startswith("error: not a proof")
    code, _, err = run("audit", "verify-proof", str(tmp_path / "missing.json"))
    assert code == 2
    code, _, err = run("--db", demo, "audit", "prove", "100000")
    assert code == 2 and "no signed tree head covers seq 100000" in err
    code, _, err = run(
        "--db", demo, "audit", "prove", "100000", "--checkpoint", str(tmp_path / "old.json")
    )  # fmt: skip
    assert code == 2 and "not in the signed tree head" in err

    # the witness co-signs later, offline; consistency to a newer head
    code, _, err = run(
        "--db", demo, "unit", "register", "91540100710940124N", "--name", "新单位",
        "--type", "enterprise",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run(
        "--db", demo, "audit", "checkpoint", "--key", str(tmp_path / "o.pem"),
        "--out", str(tmp_path / "new.json"),
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run(
        "audit", "cosign", str(tmp_path / "new.json"), "--key", str(tmp_path / "w.pem"),
        "--key-id", owner, "--out", str(tmp_path / "new-w.json"),
    )  # fmt: skip
    assert code == 0 and witness in out, err
    code, _, err = run(
        "--db", demo, "audit", "consistency", str(tmp_path / "old.json"),
        str(tmp_path / "new-w.json"), "--out", str(tmp_path / "c.json"),
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run(
        "audit", "verify-proof", str(tmp_path / "c.json"), "--key-id", owner,
        "--witness-key-id", witness, "--format", "json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["kind"] == "consistency", err
    code, _, err = run(
        "--db", demo, "audit", "consistency", str(tmp_path / "new.json"),
        str(tmp_path / "old.json"),
    )  # fmt: skip
    assert code == 2 and "oldest first" in err


def _fresh_venv(tmp_path: Path) -> Path:
    """A virtualenv with nothing but `cryptography` (and what it needs)."""
    venv = tmp_path / "auditor-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "cryptography"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if pip.returncode != 0:  # pragma: no cover - depends on reaching the package index
        if os.environ.get("CI"):
            pytest.fail(f"cannot install cryptography: {pip.stderr.strip()[-300:]}")
        pytest.skip(f"cannot install cryptography: {pip.stderr.strip()[-200:]}")
    return venv / "bin" / "python"


@pytest.mark.slow
def test_pack_verifies_in_a_fresh_virtualenv_with_only_cryptography(
    sqlite_url: str, tmp_path: Path
) -> None:
    init_ledger(sqlite_url)
    svc = LedgerService(sqlite_url)
    try:
        load_demo(svc)
    finally:
        svc.close()
    owner = keygen(tmp_path / "o.pem")
    code, _, err = run("--db", sqlite_url, "audit", "checkpoint", "--key", str(tmp_path / "o.pem"))
    assert code == 0, err
    pack_dir, pack_zip = tmp_path / "pack", tmp_path / "pack.zip"
    for out in (pack_dir, pack_zip):
        code, out_text, err = run(
            "--db", sqlite_url, "audit", "pack", "--platform", "LS-KL-001", "--out", str(out),
            "--format", "json",
        )  # fmt: skip
        assert code == 0, err
        assert json.loads(out_text)["scope"] == "platform LS-KL-001"
    python = _fresh_venv(tmp_path)
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "cryptography" in names and not names & {"science-funding-ledger", "eventsourcing"}

    def verify(where: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), str(pack_dir / "verify_pack.py"), str(where), *extra],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,  # not the repository: nothing of the ledger importable
            env={"PATH": os.environ.get("PATH", ""), "PYTHONNOUSERSITE": "1"},
        )

    for where in (pack_dir, pack_zip):
        ok = verify(where, "--key-id", owner)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert ok.stdout.startswith("ok: ") and "platform LS-KL-001" in ok.stdout

    # one byte changed: the first thing wrong is reported
    pack_json = pack_dir / "pack.json"
    original = pack_json.read_bytes()

    def position(section: bytes, after: int = 0) -> int:
        return original.index(section, after) + len(section)

    third_state = position(b'"state": "', position(b'"state": "', position(b'"state": "')))
    cases = {
        # a digit of a stored timestamp inside the third event's bytes
        "state": (original.index(b"202", third_state) + 3, "does not hash to its leaf hash"),
        "path": (position(b'"audit_path": [\n    "') + 5, "audit path does not lead"),
        "signature": (position(b'"signature": "') + 10, "bad signature"),
        "digest": (position(b'"digest": "') + 7, "digest is not its state's"),
    }
    for what, (at, expected) in cases.items():
        changed = bytearray(original)
        was = chr(changed[at])
        assert was.isalnum(), (what, was)
        # another character of the same kind: a digit for a digit, a letter for a letter
        changed[at] = ord(
            ("1" if was != "1" else "2") if was.isdigit() else ("b" if was != "b" else "c")
        )
        pack_json.write_bytes(bytes(changed))
        bad = verify(pack_dir, "--key-id", owner)
        assert bad.returncode == 1, (what, bad.stdout)
        assert bad.stdout.startswith("FAILED: ") and expected in bad.stdout, (what, bad.stdout)
    pack_json.write_bytes(original)
    other = verify(pack_dir, "--key-id", "0123456789abcdef")
    assert other.returncode == 1 and "not by the published" in other.stdout
    shutil.rmtree(tmp_path / "auditor-venv", ignore_errors=True)
