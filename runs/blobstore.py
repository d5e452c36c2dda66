"""Blob bytes in Django's storage: streamed in while hashed, moved into place atomically, verified on read."""

import hashlib
import os
import tempfile

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage, storages
from django.db import connections, router, transaction

from ledgerproject.ledger.exceptions import StateConflictError
from ledgerproject.ledger.locking import lock_ledgers
from ledgerproject.ledger.models import ALL_TENANTS, tenant_scope
from runs.models import Blob, BlobChange, BlobHold, Output, Run, RunEvent, RunOutcome, referrer_summary

CHUNK_SIZE = 1024 * 1024
DEFAULT_MEDIA_TYPE = "application/octet-stream"
# Every ledger whose appends can add a reference to a digest: a deletion holds all their locks.
REFERRING_LEDGERS = (Run, RunEvent, RunOutcome, Output, Blob, BlobChange)


class BlobTooLarge(Exception):
    """The body grew past settings.LEDGER_MAX_BLOB_BYTES while it was read (no Content-Length to refuse early)."""


class BlobIntegrityError(Exception):
    """The stored bytes no longer hash to their digest."""


def blob_storage():
    """The storage blob bytes live in: STORAGES["ledger_blobs"] when a deployment names one, else the default."""
    if "ledger_blobs" in settings.STORAGES:
        return storages["ledger_blobs"]
    return default_storage


def blob_prefix():
    return getattr(settings, "LEDGER_BLOB_PREFIX", "blobs").strip("/")


def blob_name(digest):
    # Two levels of fan-out (like git's objects/ab/cd…) keep directories small on a filesystem.
    return f"{blob_prefix()}/{digest[:2]}/{digest[2:4]}/{digest}"


class _MovableFile(File):
    """A local file the storage may move into place: FileSystemStorage renames it (atomic) instead of copying."""

    def __init__(self, file, path):
        super().__init__(file, name=os.path.basename(path))
        self._path = path

    def temporary_file_path(self):
        return self._path


class IncomingBlob:
    """The request body spooled to a temp file in chunks, hashed on the way: constant memory for any size."""

    def __init__(self):
        storage = blob_storage()
        location = getattr(storage, "location", None)
        directory = None
        if location:
            # Same filesystem as the final place, so moving it there is a rename, never a copy.
            directory = os.path.join(location, blob_prefix(), ".incoming")
            os.makedirs(directory, exist_ok=True)
        fd, self.path = tempfile.mkstemp(prefix="blob-", dir=directory)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk):
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def finish(self):
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self.digest = self._hash.hexdigest()
        return self

    def discard(self):
        if not self._file.closed:
            self._file.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass  # already moved into place

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.discard()


def receive(stream, limit=None):
    """Read a body stream chunk by chunk into an IncomingBlob (the caller closes it)."""
    limit = settings.LEDGER_MAX_BLOB_BYTES if limit is None else limit
    incoming = IncomingBlob()
    try:
        while stream is not None:
            chunk = stream.read(CHUNK_SIZE)
            if not chunk:
                break
            incoming.write(chunk)
            if incoming.size > limit:
                raise BlobTooLarge(f"Blob is larger than the limit of {limit} bytes.")
        return incoming.finish()
    except BaseException:
        incoming.discard()
        raise


def _write_bytes(digest, incoming):
    storage = blob_storage()
    name = blob_name(digest)
    if storage.exists(name):
        return
    with open(incoming.path, "rb") as handle:
        saved = storage.save(name, _MovableFile(handle, incoming.path))
    if saved != name:  # pragma: no cover - another writer put the same bytes first; keep one copy
        storage.delete(saved)


def put_blob(stream, media_type=None, recorded_by=None, tenant=None):
    """The CAS put: store a body once per digest, and give `tenant` (None: no tenant) its hold.
    Returns (blob, created); created is False when this tenant already held these bytes (so the
    answer never tells a tenant that another one stored the same bytes).

    Bytes are written under the blob ledgers' locks, so a put and a delete of the same digest never
    interleave; a put of bytes that were deleted stores them again and records that.
    """
    media_type = (media_type or "").split(";")[0].strip() or DEFAULT_MEDIA_TYPE
    with receive(stream) as incoming:
        digest = incoming.digest
        using = router.db_for_write(Blob)
        with transaction.atomic(using=using):
            lock_ledgers(connections[using], [Blob.ledger_name, BlobChange.ledger_name])
            blob = Blob.objects.using(using).filter(digest=digest).first()
            _, held_now = BlobHold.objects.using(using).get_or_create(digest=digest, tenant_key=tenant or "")
            if blob is not None and BlobChange.objects.using(using).is_present(digest):
                _write_bytes(digest, incoming)  # heals bytes lost from storage; a no-op when present
                return blob, held_now
            _write_bytes(digest, incoming)
            if blob is None:
                blob = Blob.objects.using(using).append(
                    recorded_by=recorded_by, digest=digest, size=incoming.size, media_type=media_type[:255]
                )
            else:
                BlobChange.objects.using(using).append(
                    recorded_by=recorded_by, blob=blob, change=BlobChange.RESTORED, reason="stored again"
                )
            return blob, True


def delete_blob(digest, recorded_by=None, reason="", user=None):
    """The one path that removes anything: a blob's bytes, recorded as a BlobChange; its Blob entry stays.

    A tenant-bound principal drops its tenants' holds only (a blob it cannot see is "nothing to
    delete", as for an absent one); the bytes go when no hold and no reference is left.

    Refused (StateConflictError, 409) while a run, run summary, run event, output or release refers
    to the digest. Takes every lock that could add such a reference, so none slips in meanwhile.
    Returns False when there was nothing to delete (the seed's no-op).
    """
    using = router.db_for_write(Blob)
    with transaction.atomic(using=using):
        lock_ledgers(connections[using], [model.ledger_name for model in REFERRING_LEDGERS])
        scope = ALL_TENANTS if user is None else tenant_scope(user)
        blobs = Blob.objects.using(using)
        if scope is not ALL_TENANTS:
            blobs = blobs.visible_to(user)
        blob = blobs.filter(digest=digest).first()
        if blob is None or not BlobChange.objects.using(using).is_present(digest):
            return False
        referrers = referrer_summary(digest, tenants=None if scope is ALL_TENANTS else scope)
        if referrers:
            raise StateConflictError(
                f"blob {digest} cannot be deleted: it is referred to by {referrers}", digest=digest
            )
        holds = BlobHold.objects.using(using).filter(digest=digest)
        if scope is not ALL_TENANTS:
            holds.filter(tenant_key__in=sorted(scope)).delete()
            if holds.exists() or referrer_summary(digest):
                return True  # other holders keep the bytes; this tenant no longer sees them
        holds.delete()
        BlobChange.objects.using(using).append(
            recorded_by=recorded_by, blob=blob, change=BlobChange.DELETED, reason=reason[:500]
        )
        # Inside the transaction and under the locks: a put of the same bytes waits for us.
        storage = blob_storage()
        name = blob_name(digest)
        if storage.exists(name):
            storage.delete(name)
    return True


def open_verified(digest):
    """Open the stored bytes after checking they hash to the digest (BlobIntegrityError if not).

    Returns an open binary file, or None when storage has no bytes for the digest.
    """
    storage = blob_storage()
    name = blob_name(digest)
    if not storage.exists(name):
        return None
    hasher = hashlib.sha256()
    with storage.open(name, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
            hasher.update(chunk)
    if hasher.hexdigest() != digest:
        raise BlobIntegrityError(f"the stored bytes of blob {digest} do not hash to its digest")
    return storage.open(name, "rb")


def read_bytes(digest):
    """The whole blob in memory: for small blobs (tests, demo), never for serving."""
    handle = open_verified(digest)
    if handle is None:
        return None
    with handle:
        return handle.read()
