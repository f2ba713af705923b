"""What each widget computes, as plain data the ui layer draws (no Streamlit here)."""
