"""The README's walkthroughs (auditor, finance bureau, compliance officer,
clerk) work as written on the demo ledger, on both backends: every command
line of those blocks is run in order, with only the two placeholders the
README explains filled in (KEYID: the id `audit keygen` printed; TS: a
`recorded_at` from `history`)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main

ROOT = Path(__file__).resolve().parents[2]

# lines that end in exit 1 on the demo, as the README says they do
EXPECTED_REFUSALS = {
    # the demo's statement holds deliberate discrepancies
    "--fail-on-discrepancy": "discrepancies found",
    # 91540100MA6T0A0C21 is debarred in the demo
    "--check": "is not eligible",
}


def walkthrough_lines() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    # the walkthroughs: from the first "### For the …" to the next chapter
    part = text.split("### For the ", 1)[1].split("## How it is built", 1)[0]
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)\n```", part, re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line.startswith("ledger "):
                lines.append(line)
    return lines


def test_the_walkthrough_covers_every_reader() -> None:
    lines = walkthrough_lines()
    for command in ("history", "audit verify", "funds reconcile", "eligibility", "unit register"):
        assert any(f"ledger {command}" in line for line in lines), command


def test_readme_walkthrough_runs_as_written(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEDGER_DB", db_url)
    monkeypatch.setenv("LEDGER_TODAY", "2026-11-24")
    runner = CliRunner()

    def ledger(args: list[str]) -> tuple[int, str, str]:
        result = runner.invoke(main, args)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            args,
            result.exception,
        )
        return result.exit_code, result.stdout, result.stderr

    assert ledger(["init"])[0] == 0
    code, _, err = ledger(["demo"])
    assert code == 0, err
    key_id = ""
    moment = ""
    for line in walkthrough_lines():
        command = line.split("&&")[0]
        args = shlex.split(command)[1:]
        if "KEYID" in args:
            assert key_id, f"{line}: no key was generated before it"
            args = [key_id if a == "KEYID" else a for a in args]
        if "TS" in args:
            assert moment, f"{line}: no recorded_at was read before it"
            args = [moment if a == "TS" else a for a in args]
        code, out, err = ledger(args)
        refusal = next((why for flag, why in EXPECTED_REFUSALS.items() if flag in args), None)
        if refusal is not None:
            assert code == 1 and refusal in err, (line, code, err)
            continue
        assert code == 0, (line, code, err)
        if args[:2] == ["audit", "keygen"]:
            key_id = re.search(r"key id:\s+(\S+)", out).group(1)  # type: ignore[union-attr]
        if args[0] == "history" and "json" in args:
            events = json.loads(out)
            # the moment the approval was recorded: the platform as known then
            moment = next(e["recorded_at"] for e in events if e["event"] == "Approved")
            shown = json.loads(
                ledger(["platform", "show", args[2], "--known-at", moment, "--format", "json"])[1]
            )
            assert shown["known_at"] and shown["status"] in ("construction", "operating")
