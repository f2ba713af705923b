"""Facts about the book: its chapters in book order and its pages (which widget goes with a chapter is the UI's)."""

from __future__ import annotations

import re

BOOK_PAGES = 360  # assumption: the printed book with its appendices, about 360 pages
BOOK_CHAPTERS = {  # book order
    "Chapter 1": "Understanding large language models",
    "Chapter 2": "Working with text data",
    "Chapter 3": "Coding attention mechanisms",
    "Chapter 4": "Implementing a GPT model from scratch to generate text",
    "Chapter 5": "Pretraining on unlabeled data",
    "Chapter 6": "Fine-tuning for classification",
    "Chapter 7": "Fine-tuning to follow instructions",
    "Appendix A": "Introduction to PyTorch",
    "Appendix B": "References and further reading",
    "Appendix C": "Exercise solutions",
    "Appendix D": "Adding bells and whistles to the training loop",
    "Appendix E": "Parameter-efficient fine-tuning with LoRA",
}
MAIN_TEXT = "Chapters"
PART_FIRST_PAGE = {MAIN_TEXT: 1, "Appendix A": 261}  # Appendix A as the learner read it: p. 261-279


def normalise_chapter(name: str) -> str:
    """'chapter 3' and 'Ch. 3' become 'Chapter 3'; 'appendix a' becomes 'Appendix A'."""
    text = " ".join(name.split())
    if m := re.fullmatch(r"(?:chapter|ch\.?)\s*(\d+)", text, re.I):
        return f"Chapter {int(m.group(1))}"
    if m := re.fullmatch(r"(?:appendix|app\.?)\s*([a-z])", text, re.I):
        return f"Appendix {m.group(1).upper()}"
    return text


def part_of(chapter: str) -> str:
    """An appendix is its own part of the book; chapters share the main text's page numbers."""
    return chapter if chapter.startswith("Appendix ") else MAIN_TEXT
