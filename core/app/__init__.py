"""Services around the GPT: corpora, model sources, the background training slot, estimates, the judge."""
