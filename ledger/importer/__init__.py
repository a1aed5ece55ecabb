"""`ledger import`: bulk recording from a JSON Lines file (one recording command
per line) or from register sheets (XLSX or CSV, Chinese or English headers).

Modules: :mod:`.commands` (the recording commands as data: name → service
method, how each option is read), :mod:`.lines` (a line, derived request ids),
:mod:`.jsonl` (reading JSON Lines), :mod:`.sheets` (reading register sheets),
:mod:`.batch` (`BatchService`: many lines, one transaction), :mod:`.run`
(batches, bad lines, the report), :mod:`.capture` (writing service calls as
JSON lines). docs/IMPORT.md describes the formats and the guarantees."""
