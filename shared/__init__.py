"""Domain code and data access of the relationship-marketing engine, shared by every function."""
