"""Scripts that run inside the pinned ``lifetimes`` 0.11.3 environment (``build/lifetimes-venv``).

They import nothing from this project: the venv has only lifetimes and its old numpy/pandas/scipy.
"""
