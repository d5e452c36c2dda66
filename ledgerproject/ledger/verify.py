"""Offline verifier of ledger exports, checkpoints and Merkle proofs: stdlib + cryptography, no Django, no database.

Copy this one file anywhere and run it (`python verify.py …` or `python -m ledgerproject.ledger.verify …`):

  export FILE --public-key KEY            re-walk an export's hash chain, recompute its Merkle root,
                                          check its checkpoint's signature
  checkpoint FILE --public-key KEY        check a saved checkpoint's signature
  inclusion PROOF --checkpoint CP --public-key KEY [--entry-hash H]
  consistency PROOF --old CP1 --new CP2 --public-key KEY
  update --old CP1 --url BASE_URL --ledger NAME [--token T] --public-key KEY [--save FILE]
                                          fetch the current checkpoint and a consistency proof from it to
                                          the old one, check both, and optionally save the new checkpoint

KEY is a file holding the public key (base64 of the 32 raw bytes, a PEM, or the JSON of
GET /api/v1/ledgers/public-key/) or that base64 text itself. It fails closed: every proof element is
used, proofs of the wrong length are rejected, and tree sizes come only from signed checkpoints.
Exit status: 0 verified, 1 verification failed, 2 usage or unreadable input.
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import sys
import urllib.error
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

GENESIS_HASH = "0" * 64
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class VerificationError(Exception):
    """The data does not verify (exit 1)."""


class UsageError(Exception):
    """The input cannot be read or is not what the command expects (exit 2)."""


# --- RFC 6962 / RFC 9162 hashing and proof verification --------------------------------------------


def leaf_hash(entry_hash_hex):
    return hashlib.sha256(b"\x00" + _hex32(entry_hash_hex, "entry_hash")).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def _need32(value, what):
    if not isinstance(value, bytes) or len(value) != 32:
        raise VerificationError(f"{what} is not a 32-byte hash")
    return value


def verify_inclusion(leaf_index, tree_size, leaf, proof, root):
    """RFC 9162 §2.1.3.2: raise VerificationError unless `proof` proves `leaf` at `leaf_index` under `root`."""
    _need32(leaf, "the leaf hash")
    _need32(root, "the root hash")
    if not 0 <= leaf_index < tree_size:
        raise VerificationError(f"leaf index {leaf_index} is outside a tree of size {tree_size}")
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for position, p in enumerate(proof):
        _need32(p, f"proof element {position}")
        if sn == 0:
            raise VerificationError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError("the inclusion proof is too short for the tree size")
    if not hmac.compare_digest(r, root):
        raise VerificationError("the inclusion proof does not lead to the root hash")


def verify_consistency(first, second, first_root, second_root, proof):
    """RFC 9162 §2.1.4.2: raise VerificationError unless the tree of size `first` is a prefix of `second`'s."""
    if first < 1:
        raise VerificationError("a consistency proof needs a first tree size of at least 1")
    if first > second:
        raise VerificationError(f"the first tree size {first} is larger than the second {second}")
    if first == second:
        if proof:
            raise VerificationError("equal tree sizes need an empty consistency proof")
        if not hmac.compare_digest(first_root, second_root):
            raise VerificationError("the same tree size has two different roots")
        return
    _need32(first_root, "the first root")
    _need32(second_root, "the second root")
    if not proof:
        raise VerificationError("the consistency proof is empty")
    for position, p in enumerate(proof):
        _need32(p, f"proof element {position}")
    path = list(proof)
    if first & (first - 1) == 0:
        # A power-of-two first tree is itself a node of the second: the proof starts from its root.
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("the consistency proof is longer than needed")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError("the consistency proof is too short")
    if not hmac.compare_digest(fr, first_root):
        raise VerificationError("the consistency proof does not lead to the first root")
    if not hmac.compare_digest(sr, second_root):
        raise VerificationError("the consistency proof does not lead to the second root")


class RootBuilder:
    """Streams leaves in and yields the Merkle root in O(log n) memory."""

    def __init__(self):
        self.size, self.edge = 0, {}

    def push(self, leaf):
        current, level, index = leaf, 0, self.size
        while index & 1:
            current = node_hash(self.edge.pop(level), current)
            level, index = level + 1, index >> 1
        self.edge[level] = current
        self.size += 1

    def root(self):
        if not self.size:
            return hashlib.sha256(b"").digest()
        levels = sorted(self.edge)
        result = self.edge[levels[0]]
        for level in levels[1:]:
            result = node_hash(self.edge[level], result)
        return result


# --- keys, checkpoints, signed notes ------------------------------------------------------------------


def _hex32(value, what):
    if not isinstance(value, str) or len(value) != 64:
        raise VerificationError(f"{what} is not 64 hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise VerificationError(f"{what} is not hex") from None


def _b64(value, what):
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise VerificationError(f"{what} is not base64") from None


def key_id(public_raw):
    """First 8 bytes of SHA-256 of the raw public key, hex: how checkpoints name their key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def load_public_key(spec):
    """A public key from a file (raw base64, PEM or the public-key JSON) or from base64 text."""
    text = spec
    if os.path.exists(spec):
        with open(spec, "rb") as handle:
            data = handle.read()
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
            if not isinstance(key, Ed25519PublicKey):
                raise UsageError(f"{spec} is not an Ed25519 public key")
            return key
        text = data.decode("utf-8", "replace").strip()
        if text.startswith("{"):
            try:
                text = json.loads(text)["public_key"]
            except (ValueError, KeyError, TypeError):
                raise UsageError(f"{spec} is JSON without a public_key") from None
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise UsageError(f"the public key {spec!r} is neither a readable file nor base64") from None
    if len(raw) != 32:
        raise UsageError("an Ed25519 public key is 32 raw bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def note_body(origin, tree_size, root, timestamp):
    """The signed text of a checkpoint (C2SP signed note body)."""
    return f"{origin}\n{tree_size}\n{base64.b64encode(root).decode()}\ntimestamp {timestamp}\n"


def verify_checkpoint(checkpoint, public_key):
    """Check a checkpoint dict's signature and self-consistency; return (tree_size, root bytes)."""
    if not isinstance(checkpoint, dict):
        raise VerificationError("a checkpoint is a JSON object")
    try:
        origin, size, timestamp = checkpoint["origin"], checkpoint["tree_size"], checkpoint["timestamp"]
        root_hex, signature_b64 = checkpoint["root_hash"], checkpoint["signature"]
    except KeyError as exc:
        raise VerificationError(f"the checkpoint lacks {exc.args[0]!r}") from None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise VerificationError("the checkpoint's tree_size is not a non-negative integer")
    if not isinstance(origin, str) or "\n" in origin or not isinstance(timestamp, str) or "\n" in timestamp:
        raise VerificationError("the checkpoint's origin or timestamp is malformed")
    root = _hex32(root_hex, "the checkpoint's root_hash")
    ledger = checkpoint.get("ledger")
    if ledger is not None and not origin.endswith(f"/{ledger}"):
        # `ledger` is not itself signed: it must be the one the signed origin names.
        raise VerificationError(f"the checkpoint says ledger {ledger!r} but its signed origin is {origin!r}")
    public_raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if checkpoint.get("key_id") not in (None, key_id(public_raw)):
        raise VerificationError(f"the checkpoint was signed by key {checkpoint.get('key_id')}, not this key")
    body = note_body(origin, size, root, timestamp)
    try:
        public_key.verify(_b64(signature_b64, "the signature"), body.encode("utf-8"))
    except InvalidSignature:
        raise VerificationError("the checkpoint's signature does not verify with this public key") from None
    note = checkpoint.get("note")
    if note is not None and not (isinstance(note, str) and note.startswith(body + "\n")):
        raise VerificationError("the checkpoint's note does not carry the signed body")
    return size, root


# --- exports ------------------------------------------------------------------------------------------


def verify_export(lines, public_key, progress=None):
    """Re-walk an export (an iterable of JSONL lines); return its manifest's checkpoint on success."""
    lines = iter(lines)
    try:
        manifest = json.loads(next(lines))
    except StopIteration:
        raise VerificationError("the export is empty") from None
    except ValueError:
        raise VerificationError("line 1 (the manifest) is not JSON") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("checkpoint"), dict):
        raise VerificationError("line 1 is not a manifest with a checkpoint")
    checkpoint = manifest["checkpoint"]
    size, root = verify_checkpoint(checkpoint, public_key)
    ledger = checkpoint.get("ledger")
    builder, prev, seq = RootBuilder(), GENESIS_HASH, 0
    for number, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        seq += 1
        try:
            entry = json.loads(line)
            claimed_seq, canonical = entry["seq"], entry["canonical"]
            claimed_prev, claimed_hash = entry["prev_entry_hash"], entry["entry_hash"]
        except (ValueError, KeyError, TypeError):
            raise VerificationError(f"line {number} is not an entry with seq, hashes and canonical") from None
        if claimed_seq != seq:
            raise VerificationError(f"line {number}: expected seq {seq}, found {claimed_seq}")
        if claimed_prev != prev:
            raise VerificationError(f"seq {seq}: prev_entry_hash is not the previous entry's entry_hash")
        computed = hashlib.sha256(_hex32(prev, "prev_entry_hash") + canonical.encode("utf-8")).hexdigest()
        if not hmac.compare_digest(computed, str(claimed_hash)):
            raise VerificationError(f"seq {seq}: entry_hash is not SHA-256(prev_entry_hash ‖ canonical)")
        try:
            hashed = json.loads(canonical)
        except ValueError:
            raise VerificationError(f"seq {seq}: canonical is not JSON") from None
        if not isinstance(hashed, dict) or hashed.get("ledger") != ledger or hashed.get("seq") != seq:
            raise VerificationError(f"seq {seq}: its canonical form names another ledger or seq")
        for field in ("recorded_at", "recorded_by"):
            if field in entry and entry[field] != hashed.get(field):
                raise VerificationError(f"seq {seq}: {field} differs from what was hashed")
        builder.push(leaf_hash(computed))
        prev = computed
        if progress:
            progress(seq)
    if seq != size:
        raise VerificationError(f"the export holds {seq} entries but its checkpoint covers {size}")
    if not hmac.compare_digest(builder.root(), root):
        raise VerificationError("the entries' Merkle root differs from the signed checkpoint's root")
    return checkpoint


# --- command line -------------------------------------------------------------------------------------


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise UsageError(f"{path} is not JSON") from None


def _hashes(values, what):
    if not isinstance(values, list):
        raise VerificationError(f"{what} is not a list")
    return [_hex32(value, f"{what}[{position}]") for position, value in enumerate(values)]


def _int(value, what):
    if not isinstance(value, int) or isinstance(value, bool):
        raise VerificationError(f"{what} is not an integer")
    return value


def check_inclusion(proof, checkpoint, public_key, entry_hash=None):
    """An API inclusion proof checked against a signed checkpoint (its tree size must be the checkpoint's)."""
    size, root = verify_checkpoint(checkpoint, public_key)
    if not isinstance(proof, dict):
        raise VerificationError("an inclusion proof is a JSON object")
    if _int(proof.get("tree_size"), "tree_size") != size:
        raise VerificationError(f"the proof is for tree size {proof.get('tree_size')}, the checkpoint's is {size}")
    leaf = _hex32(proof.get("leaf_hash"), "leaf_hash")
    for claimed in (entry_hash, proof.get("entry_hash")):
        if claimed is not None and not hmac.compare_digest(leaf_hash(claimed), leaf):
            raise VerificationError("leaf_hash is not the leaf of the entry_hash")
    verify_inclusion(
        _int(proof.get("leaf_index"), "leaf_index"), size, leaf, _hashes(proof.get("audit_path"), "audit_path"), root
    )
    return proof["leaf_index"], size


def check_consistency(proof, old, new, public_key):
    """An API consistency proof between two signed checkpoints of the same ledger."""
    first, first_root = verify_checkpoint(old, public_key)
    second, second_root = verify_checkpoint(new, public_key)
    if old.get("ledger") != new.get("ledger") or old.get("origin") != new.get("origin"):
        raise VerificationError("the two checkpoints are of different ledgers or origins")
    if not isinstance(proof, dict):
        raise VerificationError("a consistency proof is a JSON object")
    if _int(proof.get("first"), "first") != first or _int(proof.get("second"), "second") != second:
        raise VerificationError(
            f"the proof is from {proof.get('first')} to {proof.get('second')}, the checkpoints are {first} and {second}"
        )
    verify_consistency(first, second, first_root, second_root, _hashes(proof.get("proof"), "proof"))
    return first, second


def _fetch_json(url, token):
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the user names the server
            return json.load(response)
    except urllib.error.HTTPError as exc:
        raise UsageError(f"{url}: HTTP {exc.code} {exc.read()[:300].decode('utf-8', 'replace')}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise UsageError(f"{url}: {exc}") from None


def update(old, base_url, ledger, public_key, token=None):
    """Fetch the current checkpoint and demand a consistency proof from `old` to it; return the new one."""
    base = base_url.rstrip("/")
    if not base.endswith("/api/v1"):
        base += "/api/v1"
    if old.get("ledger") not in (None, ledger):
        raise UsageError(f"the saved checkpoint is of ledger {old.get('ledger')!r}, not {ledger!r}")
    first, _ = verify_checkpoint(old, public_key)
    new = _fetch_json(f"{base}/ledgers/{ledger}/checkpoint/", token)
    second, _ = verify_checkpoint(new, public_key)
    if second < first:
        raise VerificationError(f"the server's checkpoint ({second}) is smaller than the saved one ({first})")
    if first == 0:
        return new
    proof = _fetch_json(f"{base}/ledgers/{ledger}/proofs/consistency/?first={first}&second={second}", token)
    check_consistency(proof, old, new, public_key)
    return new


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ledgerproject.ledger.verify", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    key_help = "Ed25519 public key: a file (base64, PEM or the public-key JSON) or base64 text"

    p = sub.add_parser("export", help="re-walk an exported JSONL file and check its signed root")
    p.add_argument("file")
    p.add_argument("--public-key", required=True, help=key_help)
    p.add_argument("--checkpoint", help="also demand that the export matches this saved checkpoint")

    p = sub.add_parser("checkpoint", help="check a saved checkpoint's signature")
    p.add_argument("file")
    p.add_argument("--public-key", required=True, help=key_help)

    p = sub.add_parser("inclusion", help="check an inclusion proof against a signed checkpoint")
    p.add_argument("proof")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--public-key", required=True, help=key_help)
    p.add_argument("--entry-hash", help="the entry_hash the proof must be about")

    p = sub.add_parser("consistency", help="check a consistency proof between two signed checkpoints")
    p.add_argument("proof")
    p.add_argument("--old", required=True, help="the earlier checkpoint")
    p.add_argument("--new", required=True, help="the later checkpoint")
    p.add_argument("--public-key", required=True, help=key_help)

    p = sub.add_parser("update", help="fetch the current checkpoint and prove it extends a saved one")
    p.add_argument("--old", required=True, help="the checkpoint saved earlier")
    p.add_argument("--url", required=True, help="the server, e.g. https://ledger.example")
    p.add_argument("--ledger", required=True)
    p.add_argument("--token", default=os.environ.get("LEDGER_TOKEN"), help="API token (or $LEDGER_TOKEN)")
    p.add_argument("--public-key", required=True, help=key_help)
    p.add_argument("--save", help="write the verified new checkpoint here")

    args = parser.parse_args(argv)
    out = sys.stdout
    try:
        public_key = load_public_key(args.public_key)
        if args.command == "export":
            try:
                with open(args.file, encoding="utf-8") as handle:
                    checkpoint = verify_export(handle, public_key)
            except OSError as exc:
                raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
            if args.checkpoint:
                saved = _read_json(args.checkpoint)
                verify_checkpoint(saved, public_key)
                if (saved.get("tree_size"), saved.get("root_hash")) != (
                    checkpoint["tree_size"],
                    checkpoint["root_hash"],
                ):
                    raise VerificationError("the export's checkpoint is not the saved one")
            out.write(
                f"OK: {checkpoint.get('ledger')} export verified: {checkpoint['tree_size']} entries, "
                f"root {checkpoint['root_hash']} signed by {checkpoint.get('key_id')}\n"
            )
        elif args.command == "checkpoint":
            size, root = verify_checkpoint(_read_json(args.file), public_key)
            out.write(f"OK: checkpoint signature verified: tree size {size}, root {root.hex()}\n")
        elif args.command == "inclusion":
            index, size = check_inclusion(
                _read_json(args.proof), _read_json(args.checkpoint), public_key, args.entry_hash
            )
            out.write(f"OK: leaf {index} (seq {index + 1}) is included in the signed tree of size {size}\n")
        elif args.command == "consistency":
            first, second = check_consistency(
                _read_json(args.proof), _read_json(args.old), _read_json(args.new), public_key
            )
            out.write(f"OK: the tree of size {first} is a prefix of the signed tree of size {second}\n")
        elif args.command == "update":
            old = _read_json(args.old)
            new = update(old, args.url, args.ledger, public_key, args.token)
            if args.save:
                with open(args.save, "w", encoding="utf-8") as handle:
                    json.dump(new, handle, indent=2)
                    handle.write("\n")
            out.write(
                f"OK: {args.ledger} grew consistently from {old.get('tree_size')} to {new['tree_size']} entries "
                f"(root {new['root_hash']})\n"
            )
    except VerificationError as exc:
        sys.stderr.write(f"FAILED: {exc}\n")
        return EXIT_FAILED
    except UsageError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
