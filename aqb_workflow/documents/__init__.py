"""Agreement documents: import the signed Zielvereinbarung, render it, open a new year."""
