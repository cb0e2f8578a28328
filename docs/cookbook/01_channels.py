"""Channels: pass values from one thread to another.

An unbuffered channel (``Chan()``) is a meeting point. ``send`` returns
only once a receiver has taken the value, so a value arriving also tells
the receiver that the sender got that far: a channel both carries data and
synchronises the two threads.
"""

import threading

from chanpy import Chan


def main() -> None:
    # Chan[str] is for the type checker only; any object can travel.
    messages: Chan[str] = Chan()

    def greeter() -> None:
        messages.send("hello")  # waits here until main receives it
        messages.send("from a thread")

    worker = threading.Thread(target=greeter)
    worker.start()
    # recv() waits for the next value; values from one sender arrive in order.
    print(messages.recv())
    print(messages.recv())
    worker.join()

    # A channel as a "done" signal: the worker sends once it has finished,
    # and the receive is where main waits for it. No Event or Lock needed.
    done: Chan[bool] = Chan()
    results: list[int] = []

    def compute() -> None:
        results.extend(n * n for n in range(5))
        done.send(True)  # everything above happened before main's recv returns

    threading.Thread(target=compute).start()
    done.recv()
    print("squares:", results)


if __name__ == "__main__":
    main()
