"""Pipelines: stages connected by channels.

``g.flat_map``, ``g.filter`` and ``g.map`` each start a stage in the group
and return its output channel, closed once the stage is done; pass one
stage's output as the next one's source to chain them. ``workers=n`` runs
the function in ``n`` threads at once, and the results still come out in
source order (``ordered=True``, the default). Every channel between the
stages is bounded, so a stage runs at most a few values ahead of the one
after it; to stop a pipeline before its source runs out, cancel the
group.
"""

import itertools
import time
from collections.abc import Iterator

from chanpy import Group

LINES = ["the quick brown fox", "jumps over", "the lazy dog"]


def look_up(word: str) -> str:
    # Stands in for a slow call whose time varies: later words often
    # finish before earlier ones.
    time.sleep(0.01 * (len(word) % 3))
    return word.upper()


def three_stages() -> None:
    with Group() as g:
        words = g.flat_map(str.split, LINES)  # one line in, several words out
        long_words = g.filter(lambda w: len(w) > 3, words)
        upper = g.map(look_up, long_words, workers=4)
        # Four look-ups run at once, yet the words arrive in order.
        print("long words:", " ".join(upper))


def stop_early() -> None:
    pulled = 0

    def numbers() -> Iterator[int]:
        nonlocal pulled
        for n in itertools.count(1):  # never runs out by itself
            pulled += 1
            yield n

    with Group() as g:
        squares = g.map(lambda n: n * n, numbers())
        small: list[int] = []
        received = 0
        for s in squares:
            received += 1
            if s > 50:
                break
            small.append(s)
        # The stage is still running, waiting to send the next square:
        # cancelling the group stops it, and the exit raises nothing.
        g.cancel()
    print("squares up to 50:", small)
    # One worker and no buffer: the stage takes a new value from its
    # source only when the previous result has been received.
    print("the source ran at most one value ahead:", pulled <= received + 1)


if __name__ == "__main__":
    three_stages()
    stop_early()
