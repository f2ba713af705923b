"""llm-journal's from-scratch GPT package (no Streamlit in here).

Modules follow the book *Build a Large Language Model (From Scratch)*:
tokenizers and data (ch. 2), attention (ch. 3), model and parameters (ch. 4), training and generation (ch. 5),
classification fine-tuning (ch. 6), instruction fine-tuning (ch. 7), several processes (A.9), LoRA (E).

Layers, each importing only those before it (`tests/test_layers.py` checks every import):
`core.paths`, `core.errors`, `core.atomic` → `core.gpt` (the book's GPT) and `core.journal` (independent
of each other) → `core.widgets` (uses core.gpt) and `core.app` (uses core.gpt and core.journal) → `ui` → `pages`.
"""
