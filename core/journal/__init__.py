"""The learning journal: book facts, entries, their store, and progress figures."""
