#!/usr/bin/python3
"""WebSocket fan-out client: N subscribers to mt5-api's quote stream (GET /api/v1/stream),
each subscribed to every symbol the welcome message lists; counts the quote messages
delivered during the measured window after a warm-up. Prints one line:
  RESULT subscribers=N quotes=Q quotes_per_s=R per_subscriber_per_s=S min_subscriber_per_s=M closed=C
         client_cpu_pct=P window_s=W
(the window is measured: on a loaded machine the client may wake up later than asked)
Messages are counted by a substring test, not parsed, so the client stays cheap.
With SERVER_PID, also the server's CPU over the same window, per delivered quote:
  CPU pid=P user_us_per_quote=U sys_us_per_quote=S total_us_per_quote=T
Usage: ws_fanout.py URL TOKENS(comma list, rotated) N SECONDS [WARMUP_SECONDS [SERVER_PID]]
"""
import asyncio
import json
import os
import sys
import time

import websockets


def cpu_ticks(pid):
    if pid is None:
        return (0, 0)
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]), int(fields[12]))  # utime, stime (fields 14 and 15)


async def subscriber(url, token, counts, index, state):
    async with websockets.connect(url, extra_headers={"Authorization": f"Bearer {token}"},
                                  compression=None, max_queue=4096, open_timeout=30) as ws:
        welcome = json.loads(await ws.recv())
        symbols = welcome.get("available_symbols") or []
        if welcome.get("type") != "welcome" or not symbols:
            raise RuntimeError(f"unexpected first message: {welcome}")
        await ws.send(json.dumps({"action": "subscribe", "symbols": symbols}))
        state["ready"] += 1
        try:
            async for message in ws:
                if state["measuring"] and '"type":"quote"' in message:
                    counts[index] += 1
        except websockets.ConnectionClosed:
            pass
        if not state["done"]:
            state["closed"] += 1


async def main():
    url, tokens, n, seconds = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), float(sys.argv[4])
    warmup = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
    pid = int(sys.argv[6]) if len(sys.argv) > 6 else None
    counts = [0] * n
    state = {"ready": 0, "measuring": False, "done": False, "closed": 0}
    tasks = [asyncio.create_task(subscriber(url, tokens[i % len(tokens)], counts, i, state)) for i in range(n)]
    deadline = time.monotonic() + 60
    while state["ready"] < n:
        for t in tasks:
            if t.done() and t.exception():
                raise t.exception()
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {state['ready']} of {n} subscribers connected")
        await asyncio.sleep(0.05)
    await asyncio.sleep(warmup)
    cpu0 = time.process_time()
    server0 = cpu_ticks(pid)
    state["measuring"] = True
    start = time.monotonic()
    await asyncio.sleep(seconds)
    state["measuring"] = False
    elapsed = time.monotonic() - start
    cpu = time.process_time() - cpu0
    server1 = cpu_ticks(pid)
    state["done"] = True
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    total = sum(counts)
    print(f"RESULT subscribers={n} quotes={total} quotes_per_s={total / elapsed:.0f} "
          f"per_subscriber_per_s={total / elapsed / n:.1f} min_subscriber_per_s={min(counts) / elapsed:.1f} "
          f"closed={state['closed']} client_cpu_pct={100 * cpu / elapsed:.0f} window_s={elapsed:.1f}")
    if pid is not None and total:
        hz = os.sysconf("SC_CLK_TCK")
        user = (server1[0] - server0[0]) / hz * 1e6 / total
        system = (server1[1] - server0[1]) / hz * 1e6 / total
        print(f"CPU pid={pid} user_us_per_quote={user:.2f} sys_us_per_quote={system:.2f} "
              f"total_us_per_quote={user + system:.2f}")
    if state["closed"] or min(counts) == 0:
        sys.exit(f"{state['closed']} subscribers were closed early, the least got {min(counts)} quotes")


if __name__ == "__main__":
    asyncio.run(main())
