"""The crew's side of a published plan (issue 18 §3–4): the personal link page, answers, confirmation states."""
