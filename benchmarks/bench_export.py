"""Benchmark of the segment-export CSV stream: 1,000,000 scored rows to S3 through a multipart upload.

Run: ``python benchmarks/bench_export.py [--rows 1000000] [--no-trace]``.

A moto server runs in a child process on 127.0.0.1 (so its copy of the object is not counted in this
process's memory); synthetic scored rows are generated on the fly and fed to
:func:`shared.dal.exports.write_csv`, exactly the function the export uses for each segment file
(CSV encoding, SHA-256, 5 MiB parts). Figures: wall time and throughput of an untraced run, the peak memory
traced by ``tracemalloc`` during a second, traced run (slower: tracing costs time), and the process's peak
resident set size (``ru_maxrss``). The object is read back once to check its size and checksum.
Target: bounded memory (a few part sizes, whatever the row count) and < 2 minutes in all.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import socket
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from typing import Any
from urllib import error, request

from shared.scoring.segment_names import SEGMENTS

CONSENT = ("granted", None, "pending", None, "revoked")


def synthetic_rows(count: int) -> Iterator[dict[str, Any]]:
    """Scored rows with realistic widths (cheap to make: the stream is what is measured)."""
    for i in range(count):
        consent = CONSENT[i % 5]
        yield {
            "customer_id": f"c_{i:024x}",
            "email": f"customer{i}@example.com",
            "first_name": "Ann" if i % 2 else "Bob",
            "last_name": "Example",
            "consent_email": consent,
            "consent_sms": None,
            "consent_phone": None,
            "consent_post": "granted" if i % 7 == 0 else None,
            "reachable_email": consent == "granted",
            "segment": SEGMENTS[i % len(SEGMENTS)],
            "recency_score": i % 5 + 1,
            "frequency_score": (i // 5) % 5 + 1,
            "monetary_score": (i // 25) % 5 + 1,
            "lead_score": (i % 400) / 10,
            "stage": "customer",
            "p_alive": (i * 7919 % 10_000) / 10_000,
            "clv": (i * 104_729 % 1_000_000) / 100,
            "last_purchase_date": f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
        }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with request.urlopen(f"{url}/moto-api/", timeout=1):
                return process, url
        except (error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("the moto server did not start within 30 s")


def _mib(n: float) -> str:
    return f"{n / 1024 / 1024:,.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc run")
    args = parser.parse_args(argv)

    moto, url = _start_moto()
    try:
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": url,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_DEFAULT_REGION": "eu-west-1",
                "RM_EXPORTS_BUCKET": f"bench-exports-{uuid.uuid4().hex[:8]}",
            }
        )
        from shared.dal import blobs
        from shared.dal.exports import write_csv
        from shared.settings import get_settings

        get_settings.cache_clear()
        blobs.client.cache_clear()
        bucket = get_settings().exports_bucket
        blobs.client().create_bucket(
            Bucket=bucket,
            CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},  # type: ignore[typeddict-item]
        )
        print(f"moto server {url}; bucket {bucket}; {args.rows:,} rows")

        began = time.perf_counter()
        generated = sum(1 for _ in synthetic_rows(args.rows))
        generate_seconds = time.perf_counter() - began
        print(f"  generating the rows alone: {generate_seconds:.2f} s ({generated:,} rows)")

        key = f"exports/bench-{uuid.uuid4().hex[:8]}/loyal.csv"
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
        began = time.perf_counter()
        file = write_csv(key, synthetic_rows(args.rows), segment="Loyal")
        seconds = time.perf_counter() - began
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
        print(
            f"  export: {seconds:.2f} s, {args.rows / seconds:,.0f} rows/s, {_mib(file['bytes'])} in "
            f"{file['parts']} parts ({_mib(file['bytes'] / seconds)}/s)"
        )
        print(f"  peak RSS of this process (ru_maxrss): {_mib(rss)} ({_mib(rss_before)} before the export)")

        body = blobs.client().get_object(Bucket=bucket, Key=key)["Body"]
        digest = hashlib.sha256()
        size = 0
        for chunk in iter(lambda: body.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
        assert size == file["bytes"], (size, file["bytes"])
        assert digest.hexdigest() == file["sha256"]
        print(f"  read back: {_mib(size)}, sha256 {file['sha256'][:16]}… matches")

        if not args.no_trace:
            tracemalloc.start()
            began = time.perf_counter()
            traced = write_csv(f"{key}.traced", synthetic_rows(args.rows), segment="Loyal")
            traced_seconds = time.perf_counter() - began
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert traced["sha256"] == file["sha256"]
            print(f"  traced run: {traced_seconds:.2f} s; peak traced memory (tracemalloc): {_mib(peak)}")
        return 0
    finally:
        moto.terminate()
        moto.wait(timeout=30)


if __name__ == "__main__":
    raise SystemExit(main())
