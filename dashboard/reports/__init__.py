"""The reports area: a managers' view of money and operations over the stored days."""
