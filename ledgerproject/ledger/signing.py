"""The checkpoint signing key (Ed25519): loaded from the environment or a key file, never from the database."""

import base64
import binascii
import hashlib
import logging
import os
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ledgerproject.ledger.verify import key_id as _key_id
from ledgerproject.ledger.verify import note_body

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_cache = {}


def _from_env(value):
    if value.lstrip().startswith("-----BEGIN"):
        # settings reads LEDGER_SIGNING_KEY through env_secret, which follows LEDGER_SIGNING_KEY_FILE
        # when that variable is set: the value is then the PEM file's text.
        return _from_pem(value.encode(), "LEDGER_SIGNING_KEY")
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured("LEDGER_SIGNING_KEY is not base64") from None
    if len(raw) != 32:
        raise ImproperlyConfigured("LEDGER_SIGNING_KEY must be base64 of the 32 raw bytes of an Ed25519 private key")
    return Ed25519PrivateKey.from_private_bytes(raw)


def _from_file(path):
    path = Path(path)
    if not path.exists():
        # The embedded default: a fresh key beside the database. Deployments set their own.
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _from_file(path)  # another process generated it first: use theirs
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        logger.warning(
            "Generated a new checkpoint signing key in %s. Keep it safe and back it up, or set "
            "LEDGER_SIGNING_KEY / LEDGER_SIGNING_KEY_FILE: checkpoints signed by a lost key cannot be re-signed.",
            path,
        )
        return key
    return _from_pem(path.read_bytes(), path)


def _from_pem(data, where):
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{where} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"{where} does not hold an Ed25519 private key")
    return key


def signing_key():
    """The private key: LEDGER_SIGNING_KEY (base64, env) if set, else the PEM in LEDGER_SIGNING_KEY_FILE."""
    env_value = getattr(settings, "LEDGER_SIGNING_KEY", "") or ""
    path = str(getattr(settings, "LEDGER_SIGNING_KEY_FILE", Path(settings.VAR_DIR) / "signing-key.pem"))
    source = ("env", env_value) if env_value else ("file", path)
    with _lock:
        key = _cache.get(source)
        if key is None:
            key = _from_env(env_value) if env_value else _from_file(path)
            _cache[source] = key
    return key


def read_signing_key_now():
    """The configured key read afresh (no cache, never generated): raises OSError or ImproperlyConfigured."""
    env_value = getattr(settings, "LEDGER_SIGNING_KEY", "") or ""
    if env_value:
        return _from_env(env_value)
    path = Path(getattr(settings, "LEDGER_SIGNING_KEY_FILE", Path(settings.VAR_DIR) / "signing-key.pem"))
    if not path.is_file():
        raise ImproperlyConfigured(f"the signing key file {path} does not exist")
    return _from_pem(path.read_bytes(), path)


def public_key_raw():
    return signing_key().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id():
    """First 8 bytes of SHA-256 of the raw public key, as 16 hex digits."""
    return _key_id(public_key_raw())


def public_key_info():
    return {
        "key_id": key_id(),
        "algorithm": "Ed25519",
        "public_key": base64.b64encode(public_key_raw()).decode(),
    }


def sign(body):
    """(key_id, base64 signature) of a checkpoint body's exact UTF-8 bytes."""
    return key_id(), base64.b64encode(signing_key().sign(body.encode("utf-8"))).decode()


def note_key_hash(name):
    """C2SP signed-note key hash: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)."""
    return hashlib.sha256(name.encode("utf-8") + b"\n\x01" + public_key_raw()).digest()[:4]


def key_name():
    """The signer's name in notes: LEDGER_CHECKPOINT_ORIGIN (each ledger's origin is `<it>/<ledger>`)."""
    return settings.LEDGER_CHECKPOINT_ORIGIN


def signed_note(body, signature_b64):
    """The C2SP signed note: body, an empty line, one signature line `— <key name> <base64(keyhash ‖ sig)>`."""
    name = key_name()
    blob = base64.b64encode(note_key_hash(name) + base64.b64decode(signature_b64)).decode()
    return f"{body}\n\u2014 {name} {blob}\n"


def verifier_key():
    """The C2SP verifier key string (`<name>+<keyhash hex>+<base64(0x01 ‖ key)>`) for note tooling."""
    name = key_name()
    encoded = base64.b64encode(b"\x01" + public_key_raw()).decode()
    return f"{name}+{note_key_hash(name).hex()}+{encoded}"


__all__ = ["key_id", "note_body", "public_key_info", "sign", "signed_note", "signing_key", "verifier_key"]
