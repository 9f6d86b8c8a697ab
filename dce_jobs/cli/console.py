"""Where the client writes and asks: the two output streams, colour on a terminal only, Ctrl-C and the prompt."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from typing import TextIO

#: ANSI colours for the prefixes of the targets, in turn
PALETTE = ("36", "33", "35", "32", "34", "96", "93", "95", "92", "94")
RED = "31"
BOLD = "1"
DIM = "2"


def wants_colour(stream: TextIO, environ: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set to anything (https://no-color.org)."""
    env = os.environ if environ is None else environ
    return not env.get("NO_COLOR") and stream.isatty()


class Console:
    """The terminal (or pipes) of one command; tests pass one over StringIO."""

    def __init__(self, *, out: TextIO, err: TextIO, stdin: TextIO | None = None, colour: bool | None = None) -> None:
        """Write to out/err; colour decided from `out` (and NO_COLOR) unless given; questions read `stdin`."""
        self.out = out
        self.err = err
        self.stdin = stdin
        self.colour = wants_colour(out) if colour is None else colour

    @classmethod
    def system(cls) -> Console:
        """The process's own stdout, stderr and stdin."""
        return cls(out=sys.stdout, err=sys.stderr, stdin=sys.stdin)

    def paint(self, text: str, code: str) -> str:
        """Text in an ANSI colour, when colour is on."""
        return f"\033[{code}m{text}\033[0m" if self.colour and code else text

    def print(self, text: str = "", *, err: bool = False, flush: bool = True) -> None:
        """One line to stdout (or stderr), flushed (unless told) so that a pipe sees it as it happens."""
        stream = self.err if err else self.out
        stream.write(text + "\n")
        if flush:
            stream.flush()

    def flush(self) -> None:
        """Flush both streams (after lines printed with flush=False)."""
        self.out.flush()
        self.err.flush()

    @property
    def interactive(self) -> bool:
        """Can we ask the user a question (stdin is a terminal)?"""
        return self.stdin is not None and self.stdin.isatty()

    def on_interrupt(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` on SIGINT (Ctrl-C) instead of raising KeyboardInterrupt; returns the undo."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, callback)

        def undo() -> None:
            loop.remove_signal_handler(signal.SIGINT)

        return undo

    async def ask(self, question: str) -> bool:
        """Ask a yes/no question on stderr and wait for a line of stdin without blocking the loop (no = default)."""
        assert self.stdin is not None
        self.err.write(question + " [y/N] ")
        self.err.flush()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str] = loop.create_future()
        fd = self.stdin.fileno()

        def readable() -> None:
            if not answer.done():
                answer.set_result(self.stdin.readline() if self.stdin is not None else "")

        loop.add_reader(fd, readable)
        try:
            line = await answer
        finally:
            loop.remove_reader(fd)
        return line.strip().lower() in {"y", "yes"}
