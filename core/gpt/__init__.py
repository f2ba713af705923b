"""The book's GPT from scratch, in book order: chapters 2-7 and appendices A.9 and E. Imports only the core root."""
