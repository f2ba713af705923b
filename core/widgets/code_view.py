"""The code behind each widget step: the real source of the `core` object that computed it, with where
the book explains it (section and, where the book prints one, the listing the learner types).

Nothing is copied: the source is read from the module with `inspect`, so what is shown is what ran.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.gpt.attention import MultiHeadAttention, attention_steps
from core.gpt.bpe import train_bpe
from core.gpt.classifier import GPTClassifier, classify
from core.gpt.data import GPTDataset
from core.gpt.finetune import finetune, loss_and_accuracy
from core.gpt.generate import generate, sampling_stages
from core.gpt.instruct import calc_loss_batch as instruction_loss_batch
from core.gpt.instruct import generate_response, instruction_task
from core.gpt.instruction_data import custom_collate_fn, format_input
from core.gpt.lora import LinearWithLoRA, LoRALayer, replace_linear_with_lora
from core.gpt.model import GPTModel, TransformerBlock
from core.gpt.params import count_parameters
from core.gpt.pretrain import calc_loss_batch, calc_loss_loader
from core.gpt.tokenizers import SimpleTokenizerV1, SimpleTokenizerV2
from core.gpt.train import train
from core.paths import PROJECT_ROOT
from core.widgets.embedding_view import embed_tokens
from core.widgets.logit_lens import lens_logits, logit_lens
from core.widgets.next_token_game import human_logprob, score_round
from core.widgets.spam_explain import token_influence

SECTION = re.compile(r"^(\d|[A-E])(\.\d+)*$")  # "3.6", "5.1.3", "D.3"
LISTING = re.compile(r"^(\d|[A-E])\.\d+$")  # "3.5"


@dataclass(frozen=True)
class Step:
    """One step of a widget and the code that computes it."""

    obj: Any  # a function or class from core
    section: str  # the book's section that explains it
    listing: str | None = None  # the book's listing, where our code is that listing's counterpart


STEPS: dict[str, Step] = {
    # Chapter 2: working with text data
    "simple_tokenizer": Step(SimpleTokenizerV1, "2.3", "2.3"),
    "simple_tokenizer_v2": Step(SimpleTokenizerV2, "2.4", "2.4"),
    "bpe": Step(train_bpe, "2.5"),  # the book uses tiktoken; this is BPE trained from scratch
    "sliding_window": Step(GPTDataset, "2.6", "2.5"),
    "embeddings": Step(embed_tokens, "2.8"),
    # Chapter 3: attention
    "attention_steps": Step(attention_steps, "3.4"),
    "multi_head_attention": Step(MultiHeadAttention, "3.6.2", "3.5"),
    # Chapter 4: the GPT model
    "transformer_block": Step(TransformerBlock, "4.5", "4.6"),
    "gpt_model": Step(GPTModel, "4.6", "4.7"),
    "count_parameters": Step(count_parameters, "4.6"),
    # Chapter 5: pretraining and generating
    "calc_loss_batch": Step(calc_loss_batch, "5.1.3"),
    "calc_loss_loader": Step(calc_loss_loader, "5.1.3", "5.2"),
    "train_loop": Step(train, "5.2", "5.3"),
    "sampling_stages": Step(sampling_stages, "5.3"),
    "generate": Step(generate, "5.3.3", "5.4"),
    # Chapter 6: fine-tuning for classification
    "gpt_classifier": Step(GPTClassifier, "6.5"),
    "loss_and_accuracy": Step(loss_and_accuracy, "6.6"),
    "finetune": Step(finetune, "6.7", "6.10"),
    "classify": Step(classify, "6.8", "6.12"),
    "token_influence": Step(token_influence, "6.8"),  # ours: the book stops at the label
    # Chapter 7: fine-tuning to follow instructions
    "format_input": Step(format_input, "7.2"),
    "custom_collate_fn": Step(custom_collate_fn, "7.3"),
    "instruction_loss_batch": Step(instruction_loss_batch, "7.6"),
    "instruction_task": Step(instruction_task, "7.6"),  # ours: chapter 7's training as a task of the one loop
    "generate_response": Step(generate_response, "7.7"),
    # Appendix E: LoRA
    "replace_linear_with_lora": Step(replace_linear_with_lora, "E.4"),
    "linear_with_lora": Step(LinearWithLoRA, "E.4"),
    "lora_layer": Step(LoRALayer, "E.4"),
    # Beyond the book, built on its pieces
    "logit_lens": Step(logit_lens, "4.6"),  # the final norm and output head of section 4.6, after every block
    "lens_logits": Step(lens_logits, "4.6"),
    "score_round": Step(score_round, "5.1.2"),  # the game scores guesses by the log-probability the loss uses
    "human_logprob": Step(human_logprob, "5.1.2"),
}


@dataclass(frozen=True)
class Code:
    """A step's source as it is in the project today."""

    name: str  # e.g. "MultiHeadAttention"
    module_path: str  # e.g. "core/gpt/attention.py"
    first_line: int
    source: str
    section: str
    listing: str | None

    @property
    def book_ref(self) -> str:
        """'book section 3.6.2, listing 3.5' (or without the listing)."""
        return f"book section {self.section}" + (f", listing {self.listing}" if self.listing else "")


def code_for(step_name: str) -> Code:
    """The source of `step_name`'s object, its file relative to the project and its first line."""
    step = STEPS[step_name]
    obj = inspect.unwrap(step.obj)  # a decorated loop's source is in its own module, not the decorator's
    lines, first_line = inspect.getsourcelines(obj)
    path = Path(inspect.getsourcefile(obj)).resolve()
    try:
        module_path = path.relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        module_path = obj.__module__.replace(".", "/") + ".py"
    return Code(obj.__qualname__, module_path, first_line, "".join(lines), step.section, step.listing)
