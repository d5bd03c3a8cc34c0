"""A cautious estimate of how many bits of randomness a key holds.

Length alone says nothing: `'abcdefgh' * 4` is 32 bytes and `'password1234' * 3` is 36,
and both fall to a guess. The estimate here looks at the key the way a guesser would:

- a key that repeats a shorter pattern is worth only that pattern;
- within it, each byte is worth the Shannon entropy of the bytes actually used (so a key
  of one repeated byte is worth nothing, and a key of a few symbols little);
- a run like `abcdef` or `123456` is as cheap as one symbol, so the bytes' differences
  are scored the same way, and the lower figure counts.

It never overstates a random key's worth by much and never praises a pattern it knows;
but it does not know keyboards or dictionaries (`qwertyuiop...` is 40 different bytes to
it). So `key_is_random` also asks zxcvbn, a kept estimator that knows keyboard walks,
words, dates and l33t: a key must satisfy both.
"""

from __future__ import annotations

import math
from collections import Counter

from zxcvbn import zxcvbn

# What a signing or encryption key must hold, by this estimate. Random keys score: 32 raw
# bytes (a Fernet key) 144-160; 32 URL-safe characters 125-160; 64 URL-safe characters 300+.
# Patterns score far below: 'password1234' * 3 is 41, 'abcdefgh' * 4 is 8, zero bytes 0.
MIN_KEY_BITS = 100
# zxcvbn's estimate of the guesses a key needs, as a power of ten. Random keys score: 32
# URL-safe characters 30 or more, 64 characters 60 or more; patterns far less: a keyboard
# walk of 40 characters 15, `1qaz2wsx...` 23, four words repeated 22.
MIN_GUESSES_LOG10 = 27
# zxcvbn's time grows faster than the key's length (50 ms at 64 characters): it judges the
# first 64 characters, as long as the keys the README generates. A key is no weaker than
# its beginning, and the estimate above still reads the whole key.
MAX_JUDGED_CHARS = 64


def _period(data: bytes) -> int:
    """The length of the shortest pattern that `data` repeats (len(data) if none)."""
    n = len(data)
    for p in range(1, n // 2 + 1):
        if all(data[i] == data[i - p] for i in range(p, n)):
            return p
    return n


def _shannon_bits(data: bytes) -> float:
    if not data:
        return 0.0
    counts = Counter(data).values()
    n = len(data)
    return -sum(c * math.log2(c / n) for c in counts)


def estimated_bits(key: bytes) -> float:
    """Bits of randomness `key` can be trusted to hold."""
    unit = key[: _period(key)]
    steps = bytes((b - a) % 256 for a, b in zip(unit, unit[1:], strict=False))
    return min(_shannon_bits(unit), _shannon_bits(steps) + (8 if unit else 0))


def key_is_random(key: bytes | str) -> bool:
    """Whether `key` holds the randomness a signing or encryption key needs, by both
    estimates (bytes that are not text are judged as Latin-1 characters)."""
    data = key.encode() if isinstance(key, str) else key
    if estimated_bits(data) < MIN_KEY_BITS:
        return False
    text = data.decode("utf-8", "replace") if isinstance(key, str) else data.decode("latin-1")
    judged = text[:MAX_JUDGED_CHARS]
    guesses: float = zxcvbn(judged, max_length=MAX_JUDGED_CHARS)["guesses_log10"]
    return guesses >= MIN_GUESSES_LOG10
