"""Customer scoring: RFM quintiles and segments, lead scores, BG/NBD, Gamma-Gamma, CLV, Pareto share.

Pure, typed and vectorised (numpy/scipy); no AWS. The entry points are in :mod:`shared.scoring.engine`
(``summarise`` -> ``PartitionSummary.merge`` -> ``fit`` -> ``score``), used by both the scheduled DynamoDB
run and the offline CLI (:mod:`shared.scoring.cli`, ``rm-score-csv``).
"""
