"""A compact vocabulary: only the GPT-2 tokens a corpus uses, the rest sharing one "unknown" ID.

The tokenizer stays GPT-2's; an `id_map` (one compact ID per GPT-2 ID) translates its IDs for a
model with a smaller embedding and output head, and `gpt2_ids` translates sampled IDs back for
decoding. Pretraining on The Verdict or Tiny Shakespeare uses a few thousand of the 50,257
tokens, and the 50,257-row head is most of a small model's work. Used by the classifier's
from-scratch recipe (`core.gpt.finetune`) and by pretraining (`core.gpt.pretrain`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from core.atomic import atomic_write
from core.errors import UserError
from core.gpt.config import GPT2_VOCAB_SIZE
from core.gpt.model import GPTModel

UNKNOWN_ID, PAD_ID = 0, 1  # the first IDs of a compact vocabulary (PAD_ID only when there is padding)
ENDOFTEXT_ID = 50256  # GPT-2's <|endoftext|>: the book's padding token, and what an unknown ID decodes to
VOCAB_FILE = "vocab.safetensors"  # a run folder's id map, beside its checkpoint


def compact_id_map(
    token_rows: Sequence[Sequence[int]], min_count: int = 1, pad_id: int | None = ENDOFTEXT_ID
) -> torch.Tensor:
    """A table from GPT-2 IDs to a small vocabulary: the IDs seen at least `min_count` times in
    `token_rows` get consecutive IDs in GPT-2 order after UNKNOWN_ID (and PAD_ID for `pad_id`,
    unless it is None); every other ID maps to UNKNOWN_ID.

    A model trained from scratch on 1,045 messages sees about 4,800 of GPT-2's 50,257 tokens;
    embedding only those makes it 10x smaller and faster. With `min_count` 2, tokens seen once
    in training share the unknown vector, so it learns what an unseen token tends to mean.
    """
    counts = Counter(i for row in token_rows for i in row if i != pad_id)
    kept = sorted(i for i, n in counts.items() if n >= min_count)
    first = UNKNOWN_ID + 1 if pad_id is None else PAD_ID + 1
    id_map = torch.full((GPT2_VOCAB_SIZE,), UNKNOWN_ID, dtype=torch.long)
    id_map[torch.tensor(kept, dtype=torch.long)] = torch.arange(first, first + len(kept))
    if pad_id is not None:
        id_map[pad_id] = PAD_ID
    return id_map


def check_id_map(id_map: torch.Tensor, vocab_size: int) -> None:
    """UserError unless `id_map` maps every GPT-2 ID into 0..vocab_size-1."""
    if id_map.shape != (GPT2_VOCAB_SIZE,) or id_map.dtype != torch.long:
        raise UserError(
            f"id_map must be {GPT2_VOCAB_SIZE} integers (one per GPT-2 token), got {id_map.dtype} {tuple(id_map.shape)}"
        )
    if int(id_map.min()) < 0 or int(id_map.max()) >= vocab_size:
        raise UserError(f"id_map points outside the model's vocabulary of {vocab_size}")


def vocab_size_of(id_map: torch.Tensor) -> int:
    """The number of compact IDs `id_map` uses (its model's `vocab_size`)."""
    return int(id_map.max()) + 1


def gpt2_ids(id_map: torch.Tensor) -> torch.Tensor:
    """The inverse table: the GPT-2 ID of each compact ID; UNKNOWN_ID decodes as `<|endoftext|>`."""
    inverse = torch.full((vocab_size_of(id_map),), ENDOFTEXT_ID, dtype=torch.long)
    known = (id_map != UNKNOWN_ID).nonzero()[:, 0]
    inverse[id_map[known]] = known
    return inverse


def save_id_map(run_dir: Path, id_map: torch.Tensor) -> Path:
    """Write `id_map` into `run_dir` as `VOCAB_FILE` (atomically); returns the file's path."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    path = Path(run_dir) / VOCAB_FILE
    tensors = {"id_map": id_map.detach().cpu().contiguous()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata={"format": "pt"}))
    return path


def load_id_map(run_dir: Path, vocab_size: int) -> torch.Tensor | None:
    """The id map saved in `run_dir`, checked against the model's `vocab_size`; None when the run has none."""
    path = Path(run_dir) / VOCAB_FILE
    if not path.exists():
        return None
    try:
        id_map = load_file(str(path))["id_map"]
    except (SafetensorError, KeyError, OSError) as err:
        raise UserError(f"the compact vocabulary file {path} cannot be read ({err}); retrain the run") from None
    check_id_map(id_map, vocab_size)
    return id_map


def expand_to_gpt2(model: GPTModel, id_map: torch.Tensor) -> GPTModel:
    """The same model over all of GPT-2's IDs, for widgets that feed and read GPT-2 tokens.

    Each GPT-2 ID embeds as its compact ID does, so the hidden states are the compact model's. The
    output head scores each kept token as before; the IDs sharing UNKNOWN_ID get its score minus
    ln(how many share it), through a bias, so their probabilities add up to the unknown's and every
    other token keeps exactly its compact probability. For inference only: training losses use the
    head's weight without the bias.
    """
    check_id_map(id_map, model.cfg["vocab_size"])
    compact = model.state_dict()
    id_map = id_map.to(compact["tok_emb.weight"].device)
    state = {k: v.clone() for k, v in compact.items() if not k.startswith(("tok_emb.", "out_head."))}
    state["tok_emb.weight"] = compact["tok_emb.weight"][id_map]
    state["out_head.weight"] = compact["out_head.weight"][id_map]
    shared = id_map == UNKNOWN_ID
    bias = torch.zeros(GPT2_VOCAB_SIZE, dtype=state["out_head.weight"].dtype, device=id_map.device)
    if bool(shared.any()):
        bias[shared] = -math.log(int(shared.sum()))
    state["out_head.bias"] = bias
    with torch.device("meta"):  # no weights are drawn only to be overwritten
        full = GPTModel({**model.cfg, "vocab_size": GPT2_VOCAB_SIZE, "tie_weights": False})
        full.out_head = torch.nn.Linear(model.cfg["emb_dim"], GPT2_VOCAB_SIZE, bias=True)
    full.load_state_dict(state, assign=True)
    return full.train(model.training)
