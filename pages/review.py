"""Review: self-test cards from the chapters in the journal, answered here and spaced by FSRS."""

import streamlit as st

from ui import review
from ui.navigation import require_app_navigation

require_app_navigation()

st.title("Review")
st.markdown("Cards from the chapters your entries cover, with answers worked out live by the app's own GPT code, "
            "and cards of your own. Answer, see why, and the card comes back when you are about to forget it.")
review.review_section("review")

st.subheader("Add a card of your own")
review.own_card_section("review")
