"""The powertools Tracer (X-Ray subsegments), for every function but the latency-sensitive tracking one."""

from aws_lambda_powertools import Tracer

tracer = Tracer()
