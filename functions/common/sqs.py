"""The SQS record as the handlers parse it with ``BatchProcessor(model=...)``: each handler's subclass
declares ``body`` as ``Json[<its payload model>]``, so a record is parsed at the edge and a poison message
fails alone (reported in ``batchItemFailures``).

Not powertools' ``SqsRecordModel``: importing it loads every parser model of powertools (all event
sources), which made the email function's cold import about a third slower; the batch processor needs
only ``messageId`` (and the handler only the body).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SqsRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    messageId: str  # noqa: N815 - the SQS record's field name (BatchProcessor reports it on failure)
