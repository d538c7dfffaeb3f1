"""Data access: PynamoDB models (the single source of truth for table schemas) and repositories.

This package is the only code that talks to DynamoDB.
"""
