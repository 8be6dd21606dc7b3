"""Load test: N concurrent clients against a real `rag serve` on 127.0.0.1, for /search and /ask.

Starts the server itself (extractive answers, the bundled index), runs each endpoint for the given
time with questions from the dev set, and prints a Markdown table: requests, errors, throughput,
p50 and p99 latency. Stops the server at the end. Traffic goes to 127.0.0.1 only.

Usage: python scripts/load.py [--clients 32] [--seconds 30] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
FALLBACK = [
    "why did Amazon Q fail?",
    "亚马逊的大模型为什么失败？",
    "强化学习的新范式是什么",
    "What does Sora show about OpenAI?",
]


def questions() -> list[str]:
    dev = ROOT / "tests" / "data" / "dev.jsonl"
    if dev.exists():
        return [json.loads(line)["question"] for line in dev.read_text("utf-8").splitlines() if line.strip()]
    return FALLBACK


async def run(url: str, endpoint: str, clients: int, seconds: float, qs: list[str]) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    stop = time.monotonic() + seconds

    async def client(i: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            n = i
            while time.monotonic() < stop:
                q = qs[n % len(qs)]
                n += clients
                t = time.perf_counter()
                try:
                    if endpoint == "/search":
                        r = await http.get("/search", params={"q": q, "k": 6})
                    else:
                        r = await http.post("/ask", json={"question": q})
                    if r.status_code != 200:
                        errors.append(f"{r.status_code}: {r.text[:100]}")
                        continue
                except httpx.HTTPError as e:
                    errors.append(repr(e))
                    continue
                latencies.append((time.perf_counter() - t) * 1000)

    started = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.monotonic() - started
    pct = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return {
        "endpoint": endpoint,
        "requests": len(latencies) + len(errors),
        "errors": len(errors),
        "rps": len(latencies) / elapsed,
        "p50": pct[49],
        "p99": pct[98],
        "first_error": errors[:1],
    }


def serve_and_load(
    workers: int,
    clients: int | list[int],
    seconds: float,
    qs: list[str],
    endpoints: tuple[str, ...] = ("/search", "/ask"),
) -> list[dict]:
    """Start `rag serve` and load each endpoint with each number of clients in turn."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "rag", "serve", "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        time.sleep(2 * (workers - 1))  # the other workers finish loading
        counts = clients if isinstance(clients, list) else [clients]
        return [{"clients": n, **asyncio.run(run(url, ep, n, seconds, qs))} for ep in endpoints for n in counts]
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--workers", default="1", help="comma-separated worker counts to measure, e.g. 1,2,4")
    args = ap.parse_args()

    qs = questions()
    rows = [
        {"workers": w, **r}
        for w in map(int, args.workers.split(","))
        for r in serve_and_load(w, args.clients, args.seconds, qs)
    ]
    print(f"{args.clients} concurrent clients, {args.seconds:.0f} s per endpoint, `rag serve --workers N`, 127.0.0.1\n")
    print("| workers | endpoint | requests | errors | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['workers']} | {r['endpoint']} | {r['requests']} | {r['errors']} | {r['rps']:.1f} | {r['p50']:.0f} | "
            f"{r['p99']:.0f} |"
        )
    for r in rows:
        if r["first_error"]:
            print(f"\nfirst error on {r['endpoint']} with {r['workers']} workers: {r['first_error'][0]}")
    sys.exit(1 if any(r["errors"] for r in rows) else 0)


if __name__ == "__main__":
    main()
