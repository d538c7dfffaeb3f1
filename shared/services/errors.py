"""Errors the services raise for things that do not exist (the API answers them with a 404)."""


class NotFoundError(LookupError):
    """``str(exc)`` is the id that was asked for; ``kind`` names what it is."""

    kind = "resource"

    @property
    def message(self) -> str:
        return f"{self.kind} {self} not found"


class ExportNotFoundError(NotFoundError):
    kind = "export"


class SegmentNotFoundError(NotFoundError):
    kind = "segment"
