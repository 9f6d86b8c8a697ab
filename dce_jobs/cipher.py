"""Secrets: the only user of `cryptography`. Encrypt, decrypt, mask, merge masked edits, redact."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .errors import ConfigError, SecretUndecryptable
from .models import SecretArg

KEY_FILE_NAME = "secret.key"
_HEAD_BYTES = 16


def mask(length: int) -> str:
    """The seed's mask of a secret: one `*` per character."""
    return "*" * length


class SecretBox:
    """Authenticated encryption (Fernet: AES-128-CBC + HMAC-SHA256) with key rotation."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigError("DCE_JOBS_SECRET_KEY: no key given")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                raise ConfigError(
                    f"DCE_JOBS_SECRET_KEY: key #{position} is not a Fernet key (32 url-safe base64 bytes)"
                ) from None
        self._multi = MultiFernet(fernets)  # the first key encrypts, all of them decrypt

    def __repr__(self) -> str:
        return "SecretBox(<keys hidden>)"

    def seal(self, plaintext: str) -> SecretArg:
        """Encrypt one secret argument."""
        return SecretArg(token=self._multi.encrypt(plaintext.encode()).decode("ascii"), length=len(plaintext))

    def open(self, secret: SecretArg) -> str:
        """Decrypt one secret argument, or raise SecretUndecryptable."""
        try:
            return self._multi.decrypt(secret.token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise SecretUndecryptable(
                "a stored secret cannot be decrypted with the configured keys (was DCE_JOBS_SECRET_KEY changed?)"
            ) from None

    def rotate(self, secret: SecretArg) -> SecretArg:
        """Re-encrypt one secret with the newest key."""
        try:
            token = self._multi.rotate(secret.token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise SecretUndecryptable("a stored secret cannot be decrypted with the configured keys") from None
        return SecretArg(token=token, length=secret.length)

    def merge(self, stored: Sequence[SecretArg], incoming: Sequence[str]) -> tuple[SecretArg, ...]:
        """Apply an edit: an entry equal to the stored mask at its position keeps the stored secret."""
        merged: list[SecretArg] = []
        for position, value in enumerate(incoming):
            if position < len(stored) and value == mask(stored[position].length):
                merged.append(stored[position])
            else:
                merged.append(self.seal(value))
        return tuple(merged)


def load_keys(configured: Sequence[str], data_dir: Path) -> tuple[str, ...]:
    """Configured keys, else the key file in `data_dir`, created (mode 0600) on first start."""
    if configured:
        return tuple(configured)
    path = data_dir / KEY_FILE_NAME
    try:
        return _read_or_create_key_file(path)
    except OSError as e:
        raise ConfigError(f"key file {path}: {e.strerror or e} (or set DCE_JOBS_SECRET_KEY)") from None


def _read_or_create_key_file(path: Path) -> tuple[str, ...]:
    if path.exists():
        keys = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
        if not keys:
            raise ConfigError(f"{path} is empty; remove it or set DCE_JOBS_SECRET_KEY")
        return keys
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Fernet.generate_key().decode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return (key,)


def generate_key() -> str:
    """A new random key in the format DCE_JOBS_SECRET_KEY takes."""
    return Fernet.generate_key().decode("ascii")


class Redactor:
    """Replaces every occurrence of the secrets in a byte stream by their masks, across chunk borders."""

    def __init__(self, secrets: Iterable[str]) -> None:
        unique = sorted({s.encode() for s in secrets if s}, key=len, reverse=True)
        # longest first: at each position the longest secret wins, as in a whole-text replacement
        self._pattern = re.compile(b"|".join(re.escape(s) for s in unique)) if unique else None
        self._masks = {s: mask(len(s.decode())).encode() for s in unique}
        self._keep = max((len(s) for s in unique), default=1) - 1
        self._by_first: dict[int, list[bytes]] = {}
        for secret in unique:
            self._by_first.setdefault(secret[0], []).append(secret)
        self._carry = b""

    def feed(self, chunk: bytes) -> bytes:
        """Redact `chunk`; hold back (unredacted) only a tail that could still become a secret."""
        if self._pattern is None:
            return chunk
        buffer = self._carry + chunk
        done, rest = self._scan(buffer, boundary=len(buffer) - self._open_tail(buffer))
        self._carry = rest
        return done

    def _open_tail(self, data: bytes) -> int:
        """Length of the longest tail of `data` that is a proper prefix of a secret (0 when none is)."""
        for position in range(max(len(data) - self._keep, 0), len(data)):
            candidates = self._by_first.get(data[position])
            if not candidates:
                continue
            length = len(data) - position
            head = data[position : position + _HEAD_BYTES]  # a cheap first test before the whole tail
            for secret in candidates:
                if len(secret) > length and secret.startswith(head):
                    if length <= _HEAD_BYTES or secret.startswith(data[position:]):
                        return length
        return 0

    def flush(self) -> bytes:
        """Redact and return what was held back (the stream ended)."""
        rest, self._carry = self._carry, b""
        return self.redact(rest)

    def redact(self, data: bytes) -> bytes:
        """Redact a whole byte string at once."""
        if self._pattern is None:
            return data
        return self._scan(data, boundary=len(data))[0]

    def redact_text(self, text: str) -> str:
        """Redact a whole string at once."""
        return self.redact(text.encode()).decode(errors="replace")

    def _scan(self, data: bytes, *, boundary: int) -> tuple[bytes, bytes]:
        """Mask matches that start before `boundary` (they lie wholly in `data`); return (done, raw rest)."""
        assert self._pattern is not None
        parts: list[bytes] = []
        position = 0
        for match in self._pattern.finditer(data):
            if match.start() >= boundary:
                break
            parts += [data[position : match.start()], self._masks[match.group()]]
            position = match.end()
        cut = max(position, boundary)
        parts.append(data[position:cut])
        return b"".join(parts), data[cut:]
