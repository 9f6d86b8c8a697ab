"""Secrets: sealing, key rotation, masks, masked edits and output redaction."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dce_jobs.cipher import Redactor, SecretBox, generate_key, load_keys, mask
from dce_jobs.errors import ConfigError, SecretUndecryptable


def test_seal_open_round_trip_and_repr_hides_everything() -> None:
    box = SecretBox([generate_key()])
    sealed = box.seal("pa55word")
    assert sealed.length == 8 and "pa55word" not in sealed.token
    assert box.open(sealed) == "pa55word"
    assert "pa55word" not in repr(sealed) and sealed.token not in repr(sealed)
    assert "key" not in repr(box).replace("keys hidden", "")


def test_newest_key_encrypts_all_decrypt_and_rotation_moves_to_newest() -> None:
    old, new = generate_key(), generate_key()
    sealed_old = SecretBox([old]).seal("v")
    both = SecretBox([new, old])
    assert both.open(sealed_old) == "v"
    rotated = both.rotate(sealed_old)
    assert SecretBox([new]).open(rotated) == "v"
    with pytest.raises(SecretUndecryptable):
        SecretBox([old]).open(rotated)


def test_wrong_key_is_a_clear_error_never_garbage() -> None:
    sealed = SecretBox([generate_key()]).seal("v")
    with pytest.raises(SecretUndecryptable, match="cannot be decrypted"):
        SecretBox([generate_key()]).open(sealed)


@pytest.mark.parametrize("bad", ["short", "!" * 44, ""])
def test_bad_keys_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError):
        SecretBox([bad] if bad else [])


def test_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    first = load_keys((), tmp_path)
    mode = stat.S_IMODE(os.stat(tmp_path / "secret.key").st_mode)
    assert mode == 0o600
    assert load_keys((), tmp_path) == first
    assert load_keys(("explicit",), tmp_path) == ("explicit",)


def test_merge_keeps_masks_at_their_position_only() -> None:
    box = SecretBox([generate_key()])
    stored = (box.seal("aa"), box.seal("bbb"))
    merged = box.merge(stored, ["**", "**", "new"])
    assert merged[0] is stored[0]
    assert [box.open(s) for s in merged] == ["aa", "**", "new"]
    assert box.merge(stored, []) == ()


def test_mask_is_one_star_per_character() -> None:
    assert mask(0) == "" and mask(3) == "***"


@given(
    secrets=st.lists(st.text(alphabet="abc", min_size=1, max_size=6), min_size=1, max_size=3),
    text=st.text(alphabet="abcx", max_size=80),
    cuts=st.lists(st.integers(min_value=0, max_value=80), max_size=6),
)
def test_streaming_redaction_equals_whole_redaction(secrets: list[str], text: str, cuts: list[int]) -> None:
    data = text.encode()
    whole = Redactor(secrets).redact(data)
    streaming = Redactor(secrets)
    pieces, start = [], 0
    for cut in sorted(c for c in cuts if c <= len(data)):
        pieces.append(streaming.feed(data[start:cut]))
        start = cut
    pieces.append(streaming.feed(data[start:]))
    pieces.append(streaming.flush())
    assert b"".join(pieces) == whole
    for secret in secrets:
        if set(secret) - {"*"}:
            assert secret.encode() not in whole or any(secret in s and s != secret for s in secrets)


def test_redaction_across_chunk_border() -> None:
    redactor = Redactor(["hunter2"])
    out = redactor.feed(b"pass=hun") + redactor.feed(b"ter2 done") + redactor.flush()
    assert out == b"pass=******* done"


def test_a_long_secret_holds_back_only_a_tail_that_could_still_become_it() -> None:
    secret = "S" + "x" * 3999
    redactor = Redactor([secret])
    assert redactor.feed(b"migrating table 1\n") == b"migrating table 1\n"  # output flows at once
    assert redactor.feed(b"next line ends with Sxx") == b"next line ends with "  # 'Sxx' may begin the secret
    assert redactor.feed(secret[3:].encode() + b" done\n") == mask(4000).encode() + b" done\n"
    assert redactor.flush() == b""


def test_nested_secrets_wait_for_the_longer_one() -> None:
    redactor = Redactor(["ab", "abcd"])
    assert redactor.feed(b"x ab") == b"x "
    assert redactor.feed(b"c") == b""
    assert redactor.feed(b"d!") == b"****!"
    assert redactor.feed(b" ab.") == b" **."
