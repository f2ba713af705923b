"""Which real model a widget can look inside: a checkpoint trained here, GPT-2, or random weights.

In order of preference: the current model from the Pretraining page (`core.app.runs`: the pinned
run, else the newest finished one), OpenAI's GPT-2 small when its weights are already on disk
(downloading them is the user's choice: about 500 MB), and otherwise a randomly initialised model
of the tiny preset, which works everywhere. `run_sources` offers every saved run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from core.app import runs as registry
from core.errors import UserError
from core.gpt.checkpoint import Checkpoint, load_model
from core.gpt.config import GPT2_VOCAB_SIZE, get_preset
from core.gpt.model import GPTModel
from core.gpt.vocab import VOCAB_FILE, expand_to_gpt2, load_id_map
from core.gpt.weights import HF_REPOS, download_gpt2, gpt2_config, load_hf_gpt2_file
from core.paths import cache_dir

GPT2_SIZE = "gpt2-small"  # the larger sizes do not fit a hosted demo's memory
GPT2_DOWNLOAD_MB = 548
RANDOM_PRESET = "tiny"
RANDOM_SEED = 123


@dataclass(frozen=True)
class ModelSource:
    """A model the app could load, described for the user."""

    kind: str  # "checkpoint", "gpt2" or "random"
    label: str
    detail: str
    path: Path | None = None  # run folder or weights file; None for random weights
    needs_download: bool = False
    created: str = ""  # a checkpoint's saving time: a new save in the same folder is a new model

    @property
    def trained(self) -> bool:
        return self.kind != "random"

    @property
    def run_id(self) -> str | None:
        return self.path.name if self.kind == "checkpoint" and self.path is not None else None


def cached_gpt2_weights(size: str = GPT2_SIZE) -> Path | None:
    """GPT-2's `model.safetensors` if an earlier download left it in the cache."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(HF_REPOS[size], "model.safetensors", cache_dir=cache_dir() / "huggingface")
    return Path(found) if isinstance(found, str) else None


def checkpoint_source(run: Checkpoint) -> ModelSource:
    progress = run.progress
    return ModelSource(
        "checkpoint",
        f"Your model from the Pretraining page (run {run.run_id})",
        f"{registry.run_state(run)}, {progress['tokens_seen']:,} training tokens"
        + (f", a compact vocabulary of {run.config['vocab_size']:,} tokens" if _compact(run) else ""),
        run.path,
        created=run.created,
    )


def _reads_gpt2_text(run: Checkpoint) -> bool:
    """A language model the widgets can feed GPT-2 token IDs: over the whole vocabulary, or a compact one
    with its id map (`load_source` expands it)."""
    return run.head is None and (run.config["vocab_size"] >= GPT2_VOCAB_SIZE or _compact(run))


def _compact(run: Checkpoint) -> bool:
    return (Path(run.path) / VOCAB_FILE).is_file()


def run_sources(entries: list[registry.RunEntry]) -> list[ModelSource]:
    """Every complete language-model run that reads GPT-2 tokens, newest first."""
    return [checkpoint_source(run) for run in registry.complete_runs(entries) if _reads_gpt2_text(run)]


def model_sources(runs_root: Path | None = None, entries: list[registry.RunEntry] | None = None) -> list[ModelSource]:
    """Every kind of model available now, most useful first: the current model (when there is one),
    GPT-2 (listed even when it needs a download) and random weights."""
    if entries is None:
        entries = registry.list_entries(runs_root)
    sources = []
    usable = [e for e in entries if e.checkpoint is not None and _reads_gpt2_text(e.checkpoint)]
    current = registry.current_run(usable, registry.pinned_id(runs_root))
    if current is not None:
        sources.append(checkpoint_source(current))
    weights = cached_gpt2_weights()
    gpt2 = "OpenAI's GPT-2 small (pretrained, 124 M parameters)"
    if weights is not None:
        sources.append(ModelSource("gpt2", gpt2, "weights found in the download cache", weights))
    sources.append(
        ModelSource(
            "random",
            f"Random weights ({RANDOM_PRESET} preset, untrained)",
            "an untrained model: its weights are random, so what it computes is noise, not meaning",
        )
    )
    if weights is None:
        sources.append(
            ModelSource("gpt2", gpt2, f"needs a one-time download of about {GPT2_DOWNLOAD_MB} MB", needs_download=True)
        )
    return sources


def download_source(source: ModelSource) -> ModelSource:
    """Fetch GPT-2's weights for a source that needs them; raises `WeightsUnavailable` offline."""
    if source.kind != "gpt2":
        return source
    path = download_gpt2(GPT2_SIZE)
    return ModelSource("gpt2", source.label, "weights downloaded", path)


def random_model(preset: str = RANDOM_PRESET, seed: int = RANDOM_SEED) -> GPTModel:
    """A freshly initialised model, the same for every seed, without disturbing the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GPTModel(get_preset(preset)).eval()


def load_source(source: ModelSource) -> GPTModel:
    """The source's model in evaluation mode (typed errors from checkpoint and weights loading)."""
    if source.needs_download or (source.kind != "random" and source.path is None):
        raise UserError(f"{source.label} is not on this machine yet: download it first")
    if source.kind == "checkpoint":
        model = load_model(source.path)[0]
        id_map = load_id_map(source.path, model.cfg["vocab_size"])
        return model if id_map is None else expand_to_gpt2(model, id_map)
    if source.kind == "gpt2":
        return load_hf_gpt2_file(source.path, gpt2_config(GPT2_SIZE))
    return random_model()
