"""Textual screens, one per view. Styles live in console.tcss beside them."""
