"""`runtime-spark run PIPELINE.toml --master URL ...`: the command line.
Also `python3 -m runtime_spark run ...`, or a spark-submit script calling
`runtime_spark.cli.main()`."""

import argparse
import sys

from . import launcher

EPILOG = """examples:
  runtime-spark run pipeline.toml --master local-cluster[2,1,1024] --runtime target/release/runtime
  runtime-spark run pipeline.toml --master spark://head:7077 --runtime /shared/bin/runtime --report run.json
  runtime-spark run pipeline.toml --master yarn --resume
  runtime-spark run pipeline.toml --master spark://head:7077 --conf spark.files=/opt/runtime/bin/runtime
  spark-submit --master yarn --files /opt/runtime/bin/runtime \
      "$(python3 -c 'import runtime_spark.submit as s; print(s.__file__)')" run pipeline.toml

exit status (as `runtime run`'s): 0 ok (failed splits within run.max_failed_splits),
1 the run failed (too many failed splits, a task past spark.task.maxFailures, a table),
2 bad configuration or usage, 3 internal error."""


def parser():
    p = argparse.ArgumentParser(prog="runtime-spark", description="Run a runtime pipeline on Apache Spark",
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="plan, stage the splits in Spark tasks, commit once",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    r.add_argument("pipeline", metavar="PIPELINE.toml")
    r.add_argument("--master", help="Spark master URL (default: spark-submit's or the session's)")
    r.add_argument("--runtime", metavar="PATH",
                   help="the runtime binary, at a path every executor sees (default: one shipped with "
                        "spark.files, else `runtime` on PATH)")
    r.add_argument("--resume", action="store_true",
                   help="continue the last run recorded in the tables: committed splits are not run again")
    r.add_argument("--report", metavar="FILE.json", help="write the JSON run report here")
    r.add_argument("--staging", metavar="DIR",
                   help="attempt folders, visible to driver and executors (default: .runtime-staging "
                        "beside the pipeline)")
    r.add_argument("--num-partitions", type=int, metavar="N",
                   help="Spark tasks (default: run.workers, else the cluster's default parallelism)")
    r.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a pipeline value, as `runtime run --set` (repeatable)")
    r.add_argument("--conf", action="append", metavar="KEY=VALUE",
                   help="a Spark setting for the session the launcher starts, e.g. spark.files=/opt/runtime "
                        "(repeatable; with spark-submit use its own --conf)")
    r.add_argument("--run-id", metavar="ID", help="the run's id (default: a new one; with --resume the "
                                                  "last recorded)")
    return p


def main(argv=None, spark=None):
    args = parser().parse_args(argv)
    if args.num_partitions is not None and args.num_partitions < 1:
        print("runtime-spark: error: --num-partitions must be at least 1", file=sys.stderr)
        return 2
    code = launcher.launch(args, spark)
    if spark is None and argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
