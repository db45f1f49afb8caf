"""Runs a `runtime` pipeline on Apache Spark: the driver plans (`runtime plan
--json`), Spark tasks stage their splits (`runtime run --splits FILE
--stage-only DIR --attempt NAME`), and the driver commits the winning
attempts once (`runtime commit`). See integrations/spark/README.md."""

__version__ = "0.1.0"
