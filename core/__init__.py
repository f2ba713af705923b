"""llm-journal's from-scratch GPT package (no Streamlit in here).

Modules follow the book *Build a Large Language Model (From Scratch)*:
tokenizers and data (ch. 2), attention (ch. 3), model and parameters (ch. 4),
training and generation (ch. 5), classification fine-tuning (ch. 6).
"""
