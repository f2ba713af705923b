"""Why the classifier said spam (book section 6.8): how much each token moved the spam probability.

Occlusion: classify the message once as it is and once without each of its tokens, all in one
batch, and compare. A token whose removal lowers the spam probability pushed the message towards
spam; one whose removal raises it pushed towards ham.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from core.errors import UserError
from core.gpt.classifier import ClassifierInputError, GPTClassifier
from core.gpt.generate import inference
from core.text import plural

# One forward over n variants of n tokens costs n² token positions: bounded so a CPU answers in seconds.
MAX_INFLUENCE_TOKENS = 64


class CannotExplain(UserError):
    """A message too short (one token) or too long for token influence."""


def leave_one_out(ids: Sequence[int], pad_id: int) -> torch.Tensor:
    """(1 + n, n) token IDs: the message, then the message without token i, right-padded with `pad_id`."""
    rows = [list(ids)] + [[*ids[:i], *ids[i + 1:], pad_id] for i in range(len(ids))]
    return torch.tensor(rows, dtype=torch.long)


def token_influence(
    classifier: GPTClassifier,
    text: str,
    encode: Callable[[str], list[int]] | None = None,
    decode: Callable[[Sequence[int]], str] | None = None,
    label: str = "spam",
) -> list[tuple[str, float]]:
    """Each token's text and how much it raised the `label` probability (negative: lowered it).

    Only the first `classifier.max_length` tokens are read, as `classify` reads them.
    """
    if encode is None or decode is None:
        from core.gpt import tokenizers

        encode, decode = encode or tokenizers.encode, decode or tokenizers.decode
    if not isinstance(text, str) or not text.strip():
        raise ClassifierInputError("the text is empty: type or paste a message to explain")
    ids = encode(text)[: classifier.max_length]
    if len(ids) < 2:
        raise CannotExplain("a message of one token has nothing to leave out: its influence is the whole answer")
    if len(ids) > MAX_INFLUENCE_TOKENS:
        raise CannotExplain(f"the message has {plural(len(ids), 'token')}; which tokens mattered is worked "
                               f"out for messages of at most {MAX_INFLUENCE_TOKENS} tokens")
    column = classifier.labels.index(label)
    with inference(classifier):
        probs = classifier(leave_one_out(ids, classifier.pad_id)).softmax(dim=-1)[:, column].tolist()
    return [(decode([token]), probs[0] - without) for token, without in zip(ids, probs[1:], strict=True)]
