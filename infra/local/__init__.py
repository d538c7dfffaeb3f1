"""Local mode: the whole stack on this machine, on moto, with the real handlers."""
