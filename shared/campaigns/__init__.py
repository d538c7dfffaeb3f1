"""Campaign domain logic: the catalogue (rules as data), trigger matching, the decision rules,
hold-out assignment, product recommendations and the lift report.

Everything here is pure and typed: no AWS SDK, no I/O except reading the catalogue file.
"""
