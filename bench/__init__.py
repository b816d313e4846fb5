"""`make bench`: measured figures, each printed next to the limit it is judged against.

Every row is a ratio of two things measured in the same run on the same machine
(ours against the minimum or against a bare baseline), so the verdicts hold on any
machine even though the absolute numbers do not. See bench/__main__.py.
"""
