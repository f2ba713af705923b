"""Spam classifier (book chapter 6): fine-tune a GPT to label messages, measure it, then try it."""

import streamlit as st

from ui import spam
from ui.code import show_code
from ui.navigation import require_app_navigation

require_app_navigation()

KEY = "spam"

st.title("Spam classifier")
st.markdown(
    "Chapter 6 turns a GPT into a classifier: its 50,257-way output head is swapped for a two-way one "
    "(ham or spam), and the model is fine-tuned on labelled text messages. Fine-tuning runs in the "
    "background with live loss and accuracy curves; then see how it does on messages it never saw, "
    "and try your own."
)

st.subheader("1 · The data")
messages = spam.dataset_section(KEY)

st.subheader("2 · Fine-tune a classifier")
if messages is not None:
    spam.finetune_section(KEY, messages)
else:
    st.caption("Fine-tuning needs the dataset (see above).")
spam.live_section(KEY)
show_code("finetune")
show_code("loss_and_accuracy")

st.subheader("3 · How well it does")
chosen = spam.choose_classifier(KEY)
if chosen is not None:
    checkpoint, classifier = chosen
    spam.results_section(KEY, checkpoint, classifier, messages)
    show_code("gpt_classifier")

    st.subheader("4 · Try a message")
    spam.try_section(KEY, classifier)
    show_code("classify")

    st.subheader("5 · Test a whole file")
    spam.batch_section(KEY, checkpoint, classifier)

st.subheader("6 · Saved classifiers")
spam.saved_section(KEY)
