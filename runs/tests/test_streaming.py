"""Large blobs stream through the real HTTP upload and download paths without being held in memory."""

import hashlib
import http.client
import tracemalloc
from urllib.parse import urlsplit

import pytest

from ledgerproject.ledger.models import ApiToken

SIZE = 50 * 1024 * 1024
CHUNK = 1024 * 1024


class GeneratedBody:
    """A 50 MB request body made up on the fly (so the test itself never holds it either)."""

    def __init__(self, size):
        self.left = size
        self.hash = hashlib.sha256()
        self.block = bytes(range(256)) * (CHUNK // 256)
        self.counter = 0

    def read(self, n=-1):
        if self.left <= 0:
            return b""
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.counter += 1
        # Vary the bytes so a truncated or reordered body cannot hash the same.
        data = (self.counter.to_bytes(8, "big") + self.block)[:n]
        self.left -= len(data)
        self.hash.update(data)
        return data


@pytest.mark.django_db(transaction=True)
def test_a_50_mb_blob_goes_up_and_down_in_constant_memory(live_server, alice):
    _, key = ApiToken.objects.issue(alice)
    host = urlsplit(live_server.url)
    body = GeneratedBody(SIZE)
    headers = {"Authorization": f"Token {key}", "Content-Type": "application/octet-stream", "Content-Length": str(SIZE)}

    tracemalloc.start()
    try:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=300)
        conn.request("POST", "/api/v1/blobs/", body=body, headers=headers)
        response = conn.getresponse()
        created = response.read()
        assert response.status == 201, created
        digest = body.hash.hexdigest()
        assert digest.encode() in created

        conn.request("GET", f"/api/v1/blobs/{digest}/", headers={"Authorization": f"Token {key}"})
        response = conn.getresponse()
        assert response.status == 200
        assert int(response.getheader("Content-Length")) == SIZE
        got, received = hashlib.sha256(), 0
        while chunk := response.read(CHUNK):
            got.update(chunk)
            received += len(chunk)
        conn.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (received, got.hexdigest()) == (SIZE, digest)
    # Server and client share this process: both sides together stay far below the blob's size.
    assert peak < SIZE / 5, f"peak traced memory {peak / 1e6:.1f} MB for a {SIZE / 1e6:.0f} MB blob"
