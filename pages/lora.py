"""LoRA (book appendix E): fine-tune a few small matrices beside a frozen GPT."""

import streamlit as st

from ui import lora
from ui.code import show_code
from ui.navigation import require_app_navigation

require_app_navigation()

KEY = "lora"

st.title("LoRA: parameter-efficient fine-tuning")
st.markdown(
    "Appendix E freezes the pretrained weights W and learns a low-rank change beside each linear layer: "
    "the layer computes x W + alpha · (x @ A @ B), with A (in × rank) drawn at random and B (rank × out) "
    "starting at zero, so the model begins exactly as it was. Only A and B train."
)

st.subheader("1 · The model and the adapters")
cfg, rank, alpha, targets, num_classes = lora.settings_section(KEY)
show_code("replace_linear_with_lora")
show_code("linear_with_lora")
show_code("lora_layer")
plan = lora.plan_or_error(cfg, rank, alpha, targets, num_classes)
if plan is not None:
    lora.counts_section(plan, rank)

    st.subheader("2 · What training needs")
    lora.memory_section(plan)
    lora.layers_section(plan)

st.subheader("3 · Fine-tune with LoRA, and compare")
st.markdown(
    "The spam classifier of chapter 6 can fine-tune with LoRA: the new two-way head is frozen with the rest, "
    "and every linear layer gets a rank-16 adapter (alpha 16), as in appendix E. The table compares the runs "
    "you make: accuracy on the held-out test messages, training time and checkpoint size."
)
lora.runs_section(KEY)
