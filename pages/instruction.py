"""Instruction fine-tuning (book chapter 7): the data, the loss mask, fine-tuning, the answers, judging them."""

import streamlit as st

from ui import instruction
from ui.code import show_code
from ui.navigation import require_app_navigation

require_app_navigation()

KEY = "instruction"

st.title("Instruction fine-tuning")
st.markdown(
    "Chapter 7 teaches a GPT to follow instructions: each training example is an Alpaca-style prompt "
    "(instruction, optional input) followed by the answer. Batches are padded to their longest example, "
    "and the loss skips the padding (targets set to -100), optionally the prompt too. Fine-tune in the "
    "background, then read the model's answers to the test set beside the reference, score them, and try "
    "your own instructions."
)

st.subheader("1 · The data")
records = instruction.data_section(KEY)
show_code("format_input")

st.subheader("2 · What the loss sees: the mask inspector")
models = instruction.model_choices()
instruction.mask_section(KEY, records, models)
show_code("custom_collate_fn")
show_code("instruction_loss_batch")

st.subheader("3 · Fine-tune")
if records is not None:
    instruction.finetune_section(KEY, records)
else:
    st.caption("Fine-tuning needs the instruction data (see above).")
instruction.live_section(KEY)
show_code("instruction_task")

st.subheader("4 · The answers")
show_code("generate_response")
chosen = instruction.choose_run(KEY)
if chosen is not None:
    run, responses = chosen
    instruction.responses_section(KEY, run, responses)

    st.subheader("5 · Judging the answers")
    instruction.judge_section(KEY, run, responses)

    st.subheader("6 · Try it")
    instruction.try_section(KEY, run)
