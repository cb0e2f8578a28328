"""Fan-in: several producers, one channel to read.

``g.merge(*sources)`` forwards every value of every source into a single
output channel and closes it once every source is exhausted, so the
reader needs one ``for`` loop instead of a ``select`` over all of them.
A source is a channel (received until closed and drained) or any
iterable. Each source's values keep their order; how the sources
interleave depends on timing.
"""

import time
from collections import defaultdict

from chanpy import Chan, Group

Reading = tuple[str, int]


def sensor(name: str, period: float, out: Chan[Reading]) -> None:
    with out:  # closed when this sensor is done: merge then stops reading it
        for n in range(4):
            time.sleep(period)  # each sensor has its own pace
            out.send((name, n))


def main() -> None:
    with Group() as g:
        sources: list[Chan[Reading]] = []
        for name, period in (("north", 0.005), ("south", 0.01), ("east", 0.015)):
            out: Chan[Reading] = Chan()
            g.go(sensor, name, period, out)
            sources.append(out)
        stored = [("archive", 0), ("archive", 1)]  # a plain list is a source too
        readings = g.merge(*sources, stored)

        by_source: defaultdict[str, list[int]] = defaultdict(list)
        total = 0
        for name, n in readings:  # ends once all four sources are done
            by_source[name].append(n)
            total += 1
    print("readings:", total)
    # The interleaving varies from run to run; each source's own order does not.
    for name in sorted(by_source):
        print(f"{name}: {by_source[name]}")


if __name__ == "__main__":
    main()
