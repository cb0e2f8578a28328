"""Errgroup: workers that succeed or fail together.

Every worker of a ``Group`` runs inside the group's context. The first
exception, from a worker or from the block itself, cancels that context,
so the other workers' chanpy waits raise ``Cancelled`` and they stop
instead of finishing work nobody wants. Leaving the block waits for all
of them, then raises an ``ExceptionGroup`` of the real errors (never of
those ``Cancelled``), which ``except*`` takes apart by type.
"""

from chanpy import Cancelled, Chan, Group, after


def fetch(name: str, delay: float, results: Chan[str], fail: bool = False) -> None:
    # A wait on a channel is a point where the group's cancel reaches the
    # worker (time.sleep would not notice it).
    after(delay).recv()
    if fail:
        raise ConnectionError(f"{name}: connection refused")
    results.send(f"{name}: ok")


def all_succeed() -> None:
    results: Chan[str] = Chan(3)
    with Group() as g:
        for name in ("mirror-a", "mirror-b", "mirror-c"):
            g.go(fetch, name, 0.01, results)
    # Nothing failed, so nothing was raised.
    results.close()
    print("all succeeded:", sorted(results))


def first_error_cancels_the_rest() -> None:
    results: Chan[str] = Chan(3)
    cancelled: list[str] = []

    def slow_fetch(name: str) -> None:
        try:
            fetch(name, 1.0, results)
        except Cancelled:
            cancelled.append(name)
            raise  # let the group see how the worker ended

    try:
        with Group() as g:
            g.go(slow_fetch, "mirror-a")
            g.go(slow_fetch, "mirror-b")
            # Started last: once it has failed, go() raises Cancelled and
            # starts nothing, so a worker started after it might never run.
            g.go(fetch, "mirror-c", 0.01, results, fail=True)
    except* ConnectionError as group:
        for error in group.exceptions:
            print("failed:", error)
    print("cancelled:", sorted(cancelled))
    print("results delivered:", len(results))
    print("cancelled because of:", repr(g.context.cause))


def first_answer_wins() -> None:
    # g.cancel() stops the others without an error: the exit raises nothing.
    results: Chan[str] = Chan(3)
    with Group() as g:
        g.go(fetch, "mirror-a", 1.0, results)
        g.go(fetch, "mirror-b", 0.01, results)
        g.go(fetch, "mirror-c", 1.0, results)
        print("first answer:", results.recv())
        g.cancel()
    print("answers left over:", len(results))


if __name__ == "__main__":
    all_succeed()
    first_error_cancels_the_rest()
    first_answer_wins()
