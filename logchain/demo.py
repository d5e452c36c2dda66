"""Demo data: three mesh nodes and their daemons, each with a realistic, per-node ordered log stream."""

import random
import time

from logchain.models import LogRecord

# node_id -> (role, {daemon_id: daemon name})
NODES = {
    101: ("gateway", {7: "ingress", 8: "ratelimit", 9: "auth-proxy"}),
    102: ("worker", {21: "scheduler", 22: "embedder", 23: "vector-store"}),
    103: ("worker", {31: "scheduler", 32: "llm-runner", 33: "artifact-sync"}),
}

LINES = {
    "ingress": [
        ("Info", "accepted connection from 10.4.{a}.{b}:5{c}{c}1"),
        ("Debug", "route /v1/runs matched upstream pool 'runs' ({n} healthy)"),
        ("Info", "HTTP 201 POST /v1/runs/{hex} in {ms} ms"),
        ("Warn", "upstream 'runs' slow: p95 {slow} ms over the last 60 s"),
        ("Error", "upstream 'runs' reset the connection after {ms} ms; retrying on another replica"),
    ],
    "ratelimit": [
        ("Debug", "bucket tenant-{n} refilled to 120 tokens"),
        ("Info", "tenant-{n} at {pct}% of its per-minute quota"),
        ("Warn", "tenant-{n} throttled: 429 for 30 s (burst of {burst} requests)"),
    ],
    "auth-proxy": [
        ("Info", "token cache hit rate {pct}% ({n} entries)"),
        ("Warn", "rejected token with unknown key id k{hex}"),
        ("Trace", "jwks refreshed, {n} keys"),
    ],
    "scheduler": [
        ("Info", "scheduled task t-{hex} attempt 1 on slot {n}"),
        ("Info", "task t-{hex} finished in {ms} ms"),
        ("Debug", "queue depth {n}, {burst} waiting for a GPU slot"),
        ("Warn", "task t-{hex} exceeded its soft deadline ({slow} ms)"),
        ("Error", "task t-{hex} failed: worker lost heartbeat; requeued (attempt 2)"),
    ],
    "embedder": [
        ("Debug", "batch of {burst} chunks embedded in {ms} ms"),
        ("Info", "model bge-small loaded, dim 384"),
        ("Warn", "input truncated to 512 tokens for chunk c-{hex}"),
    ],
    "vector-store": [
        ("Info", "compaction of segment {n} done: {burst} vectors, {pct}% space reclaimed"),
        ("Trace", "search k=8 over {n} segments in {ms} ms"),
        ("Warn", "segment {n} replica lagging by {burst} writes"),
        ("Error", "fsync of segment {n} failed: No space left on device"),
    ],
    "llm-runner": [
        ("Info", "completion c-{hex}: {burst} tokens in {ms} ms"),
        ("Debug", "kv-cache at {pct}% ({n} sequences)"),
        ("Warn", "provider returned 529 overloaded; backing off {ms} ms"),
        ("Error", "generation c-{hex} aborted: context length exceeded (8192)"),
    ],
    "artifact-sync": [
        ("Info", "pushed artifact a-{hex} ({burst} KiB)"),
        ("Debug", "manifest diff: {n} new, 0 removed"),
        ("Warn", "checksum mismatch on a-{hex}, re-downloading"),
    ],
}
SUBSTRATE = [
    ("Info", "node heartbeat ok, {n} daemons running"),
    ("Debug", "gossip round {n}: {burst} peers"),
    ("Warn", "clock skew {ms} ms against peer n{n}"),
]
LEVEL_WEIGHTS = {"Trace": 1, "Debug": 4, "Info": 10, "Warn": 2, "Error": 0.6}
PER_NODE = 180


def _fill(template, rng):
    return template.format(
        a=rng.randint(0, 255),
        b=rng.randint(1, 254),
        c=rng.randint(0, 9),
        n=rng.randint(1, 64),
        hex=f"{rng.getrandbits(24):06x}",
        ms=rng.randint(3, 900),
        slow=rng.randint(1200, 9000),
        pct=rng.randint(12, 97),
        burst=rng.randint(2, 400),
    )


def build_rows(seed, now_ms=None):
    """Every node's records, interleaved by time and in per-node seq order."""
    rng = random.Random(seed)
    now_ms = now_ms or int(time.time() * 1000)
    start = now_ms - 6 * 3600 * 1000
    rows = []
    for node_id, (_, daemons) in NODES.items():
        ts = start + rng.randint(0, 60_000)
        for node_seq in range(1, PER_NODE + 1):
            ts += rng.randint(200, 2 * 3600 * 1000 * 3 // PER_NODE)
            daemon_id = rng.choice([*daemons, None]) if rng.random() < 0.9 else None
            choices = SUBSTRATE if daemon_id is None else LINES[daemons[daemon_id]]
            level, template = rng.choices(choices, weights=[LEVEL_WEIGHTS[lvl] for lvl, _ in choices])[0]
            rows.append(
                {
                    "node_id": node_id,
                    "node_seq": node_seq,
                    "ts_ms": min(ts, now_ms),
                    "level": level,
                    "daemon_id": daemon_id,
                    "message": _fill(template, rng),
                    # A few lines that missed their node's chain at first and were re-sent.
                    "chain_pending": rng.random() < 0.02,
                }
            )
    rows.sort(key=lambda row: (row["ts_ms"], row["node_id"], row["node_seq"]))
    return rows


def load(seed=20261121):
    """Append the demo streams unless the ledger already has entries; returns a one-line summary."""
    if LogRecord.objects.exists():
        return "logchain already has entries; left as it is"
    rows = build_rows(seed)
    for start in range(0, len(rows), 500):
        LogRecord.objects.append_many(rows[start : start + 500], recorded_by="demo-mesh")
    return f"{len(rows)} log records from {len(NODES)} nodes and {sum(len(d) for _, d in NODES.values())} daemons"
