"""Request and response: ask a bot, wait for its answer, or give up in time.

``ref.ask(msg)`` puts ``msg`` in the bot's mailbox and waits for what
``on_message`` returns; ``await ref.aask(msg)`` does the same from a trio
or asyncio task. ``timeout=`` bounds the whole wait with a TimeoutError,
but a message that was accepted is still handled: only its answer is
dropped. If the handler raises, the asker gets that exception, and the
bot is restarted from its spawn arguments, with fresh state. A bot asks
another bot by message, naming itself as the one to reply to: a handler
that waited for an answer would hold up its runner.
"""

import asyncio
import time

from chanpy import Chan
from chanpy_patterns import Bot, BotRef, Fleet


class Oracle(Bot):
    def __init__(self) -> None:
        self.answered = 0

    def on_message(self, msg: object) -> object:
        match msg:
            case ("square", int(n)):
                self.answered += 1
                return n * n
            case ("think", float(seconds)):
                time.sleep(seconds)  # slow, and it holds up its runner meanwhile
                self.answered += 1
                return "42"
            case ("divide", int(a), int(b)):
                self.answered += 1
                return a / b
            case "how many":
                return self.answered
        raise ValueError(f"the oracle does not understand {msg!r}")


async def ask_from_asyncio(oracle: BotRef) -> None:
    # The same bot, asked from asyncio tasks: aask awaits without blocking
    # the loop, so several questions can be out at once.
    print("aask:", await oracle.aask(("square", 7), timeout=5))
    squares = await asyncio.gather(*(oracle.aask(("square", n), timeout=5) for n in range(5)))
    print("five at once:", squares)
    try:
        await oracle.aask(("think", 0.2), timeout=0.05)
    except TimeoutError:
        print("aask: no answer within 50 ms, TimeoutError")


def asking() -> None:
    with Fleet(workers=2) as fleet:
        oracle = fleet.spawn(Oracle, name="oracle")
        print("ask:", oracle.ask(("square", 12), timeout=5))

        try:
            oracle.ask(("think", 0.2), timeout=0.05)
        except TimeoutError:
            print("ask: no answer within 50 ms, TimeoutError")
        # Still handled, in order, before the next question.
        print("answered so far:", oracle.ask("how many", timeout=5))

        asyncio.run(ask_from_asyncio(oracle))
        print("answered so far:", oracle.ask("how many", timeout=5))

        # A handler that raises: the asker gets the very exception.
        try:
            oracle.ask(("divide", 1, 0), timeout=5)
        except ZeroDivisionError as e:
            print("ask raised:", repr(e))
        # The bot was rebuilt (Oracle() again): its count starts over.
        # Messages sent while it waited for its restart waited in its mailbox.
        print("answered after the restart:", oracle.ask("how many", timeout=5))
        print("restarts:", oracle.restarts)
        # The failed request went back to its asker, not to the dead letters.
        print("dead letters:", fleet.stats().dead_letters)


class Server(Bot):
    def on_message(self, msg: object) -> None:
        match msg:
            case ("square", int(n), BotRef() as reply_to):
                reply_to.send_nowait(("answer", n, n * n))


class Client(Bot):
    def __init__(self, server: BotRef, results: Chan[dict[int, int]]) -> None:
        self.server = server
        self.results = results
        self.wanted = 0
        self.answers: dict[int, int] = {}

    def on_message(self, msg: object) -> object:
        match msg:
            case "ask by waiting":
                try:
                    return self.server.ask(("square", 3), timeout=1)
                except RuntimeError as e:
                    return f"RuntimeError: {e}"
            case ("ask by message", list(numbers)):
                self.wanted = len(numbers)
                for n in numbers:  # the answers come back later, as messages
                    self.server.send_nowait(("square", n, self.ref))
            case ("answer", int(n), int(square)):
                self.answers[n] = square
                if len(self.answers) == self.wanted:
                    self.results.send_nowait(dict(sorted(self.answers.items())))
        return None


def bots_asking_bots() -> None:
    with Fleet(workers=1) as fleet:  # one runner: the client and the server share it
        server = fleet.spawn(Server, name="server")
        results: Chan[dict[int, int]] = Chan(1)
        client = fleet.spawn(Client, server, results, name="client")
        # Waiting for the server in a handler on the server's own runner
        # would wait forever (that runner is the one waiting): ask() refuses.
        print(client.ask("ask by waiting", timeout=5))
        client.send(("ask by message", [1, 2, 3, 4]))
        print("the client's answers:", results.recv(timeout=5))


if __name__ == "__main__":
    asking()
    bots_asking_bots()
