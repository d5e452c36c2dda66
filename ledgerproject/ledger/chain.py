"""Re-walks a ledger's hash chain in the database and names the first bad seq and why."""

import json
from dataclasses import asdict, dataclass

from ledgerproject.ledger import hashing

BATCH = 5000


@dataclass
class VerifyResult:
    ledger: str
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""

    def as_dict(self):
        return asdict(self)


def _same(stored, current):
    """JSON equality that tells true from 1 and "1" from 1, as the canonical bytes do."""
    if isinstance(stored, bool) or isinstance(current, bool) or stored is None or current is None:
        return type(stored) is type(current) and stored == current
    if isinstance(stored, (int, float)) and isinstance(current, (int, float)):
        return stored == current
    if type(stored) is not type(current):
        return False
    if isinstance(stored, dict):
        return stored.keys() == current.keys() and all(_same(stored[k], current[k]) for k in stored)
    if isinstance(stored, list):
        return len(stored) == len(current) and all(_same(a, b) for a, b in zip(stored, current, strict=True))
    return stored == current


def _changed_fields(hashed, current):
    if not isinstance(hashed, dict):
        return []
    return sorted(k for k in hashed.keys() | current.keys() if not _same(hashed.get(k), current.get(k)))


def verify_chain(model, using=None, progress=None):
    """Walk `model`'s entries by seq and check, for each one, that:

    - seqs run 1, 2, 3, … with no gap;
    - prev_entry_hash is the previous entry's entry_hash (64 zeros for the first);
    - entry_hash = SHA-256(prev || canonical);
    - the stored canonical text names this ledger, seq, recorded_at and recorded_by, and its
      content equals the row's current column values (so a column changed behind the
      triggers' back is caught even when the hashes were left alone).
    """
    name = model.ledger_name
    content_fields = model.content_fields()
    columns = ["seq", "recorded_at", "recorded_by_name", "prev_entry_hash", "entry_hash", "canonical"]
    columns += [f.attname for f in content_fields]
    keys = [f.attname for f in content_fields]
    manager = model._base_manager.using(using) if using else model._base_manager
    rows = manager.order_by("seq").values_list(*columns).iterator(chunk_size=BATCH)
    expected_seq, prev, checked = 1, hashing.GENESIS_HASH, 0

    def bad(seq, reason):
        return VerifyResult(name, False, checked, seq, reason)

    for row in rows:
        seq, recorded_at, recorded_by, prev_hash, this_hash, canonical = row[:6]
        if seq != expected_seq:
            return bad(expected_seq, f"seq {expected_seq} is missing (the next entry has seq {seq})")
        if prev_hash != prev:
            return bad(seq, "prev_entry_hash does not match the previous entry's entry_hash")
        if hashing.entry_hash(prev, canonical) != this_hash:
            return bad(seq, "entry_hash does not match SHA-256(prev_entry_hash || canonical)")
        try:
            hashed = json.loads(canonical)
        except ValueError:
            return bad(seq, "the stored canonical form is not JSON")
        if (
            hashed.get("ledger") != name
            or hashed.get("seq") != seq
            or hashed.get("recorded_at") != hashing.format_timestamp(recorded_at)
            or hashed.get("recorded_by") != recorded_by
        ):
            return bad(seq, "ledger, seq, recorded_at or recorded_by differ from what was hashed")
        content = dict(zip(keys, (hashing.jsonable(value) for value in row[6:]), strict=True))
        if not _same(hashed.get("content"), content):
            changed = _changed_fields(hashed.get("content"), content)
            return bad(
                seq, "content differs from what was hashed" + (f" (fields: {', '.join(changed)})" if changed else "")
            )
        prev = this_hash
        expected_seq += 1
        checked += 1
        if progress is not None:
            progress(1)
    return VerifyResult(name, True, checked)


def record_check(result, checked_by=""):
    """Store a verification result so pages can show the chain's last known status."""
    from ledgerproject.ledger.models import ChainCheck

    return ChainCheck.objects.create(
        ledger=result.ledger,
        ok=result.ok,
        checked=result.checked,
        first_bad_seq=result.first_bad_seq,
        reason=result.reason,
        checked_by=checked_by,
    )
