"""Broadcast: every subscriber gets every value.

Fan-out (recipe 12) gives each value to one worker; ``g.broadcast(src, n)``
gives each value to all ``n`` of its output channels. By default a full
output makes the broadcast wait, so the slowest subscriber sets the pace
and nobody misses anything. When a subscriber only cares about recent
values (a display, a cache of the latest state), ``overflow="drop_oldest"``
keeps the feed moving instead: a full output loses its oldest value to
make room for the new one, and ``.dropped`` counts what each one lost.
"""

import time
from collections.abc import Iterator

from chanpy import Chan, Group


def every_value() -> None:
    names = ("audit", "cache", "metrics")
    got: dict[str, list[int]] = {}

    def subscribe(name: str, feed: Chan[int]) -> None:
        got[name] = list(feed)  # until the broadcast closes the feed

    with Group() as g:
        feeds = g.broadcast(range(1, 6), len(names))
        for name, feed in zip(names, feeds, strict=True):
            g.go(subscribe, name, feed)
    for name in names:
        print(f"{name}: {got[name]}")
    print("dropped:", feeds.dropped)  # nothing is dropped with the default "block"


def price_feed() -> Iterator[int]:
    for price in range(1, 101):
        time.sleep(0.001)  # a new price every millisecond
        yield price


def latest_values() -> None:
    got: dict[str, list[int]] = {}

    def subscribe(name: str, feed: Chan[int], pace: float) -> None:
        seen: list[int] = []
        for price in feed:
            time.sleep(pace)
            seen.append(price)
        got[name] = seen

    with Group() as g:
        feeds = g.broadcast(price_feed(), 2, buffer=4, overflow="drop_oldest")
        g.go(subscribe, "log", feeds[0], 0.0)  # keeps up, mostly
        g.go(subscribe, "display", feeds[1], 0.01)  # each redraw takes a while
    # How many each one dropped depends on timing; these hold every time.
    for name, dropped in zip(("log", "display"), feeds.dropped, strict=True):
        seen = got[name]
        print(f"{name}: received + dropped == 100:", len(seen) + dropped == 100)
        # The newest value always gets in, so the last one received is 100.
        in_order = seen == sorted(seen) and seen[-1] == 100
        print(f"{name}: in order, ending with the latest:", in_order)
    print("the display dropped some:", feeds.dropped[1] > 0)


if __name__ == "__main__":
    every_value()
    latest_values()
