#!/usr/bin/env python3
"""Plain PySpark pod-usage job (examples/pod-usage/SPEC.md), written the way a Spark user would:
DataFrame API only, no UDFs.

    python3 impl_pyspark.py IN_DIR OUT_DIR [--master local-cluster[2,1,1024]]

* pod_labels is read with the schema type STRING: Spark's JSON reader then keeps the nested-object
  form as its raw JSON text, and the string form arrives as the text it holds, so both parse with
  from_json(..., MAP<STRING,STRING>); null and "" give an empty map.
* Merge: map_concat(node, namespace, pod) with spark.sql.mapKeyDedupPolicy=LAST_WIN, so the pod
  wins over the namespace, which wins over the node.
* Canonical text: the entries sorted by key (binary UTF-8 order = code point order), rebuilt as a
  map, and to_json (Jackson: compact, `/` not escaped, non-ASCII raw).
* Side tables: left joins on (day, node) and (day, namespace), broadcast (they are small).
* Output: a Parquet folder (part files), snappy.
Prints the SparkSession's start-up and the job's time on stderr, and the CHECKSUM line on stdout.
"""
import argparse, os, sys, time

EX = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples", "pod-usage")
sys.path.insert(0, EX)
from checksum import checksum  # noqa: E402

SECONDS = ["pod_usage_cpu_core_seconds", "pod_request_cpu_core_seconds",
           "pod_usage_memory_byte_seconds", "pod_request_memory_byte_seconds"]
METRICS = ["pod_usage_cpu_core_hours", "pod_request_cpu_core_hours",
           "pod_usage_memory_gigabyte_hours", "pod_request_memory_gigabyte_hours"]
DIVISORS = [3600, 3600, 3600 * 2**30, 3600 * 2**30]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("in_dir")
    ap.add_argument("out")
    ap.add_argument("--master", default="local-cluster[2,1,1024]")
    a = ap.parse_args()

    t0 = time.perf_counter()
    from pyspark.sql import SparkSession, functions as F, types as T
    spark = (SparkSession.builder.master(a.master).appName("pod-usage-pyspark")
             .config("spark.sql.mapKeyDedupPolicy", "LAST_WIN")
             .config("spark.ui.enabled", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    t1 = time.perf_counter()

    S, D = T.StringType(), T.DoubleType()
    labels_map = T.MapType(S, S)

    def read(name, fields):
        schema = T.StructType([T.StructField(n, t) for n, t in fields])
        return spark.read.schema(schema).json(f"{a.in_dir}/{name}.ndjson")

    def parse(c):  # JSON text of an object -> map; null / "" -> empty map
        return F.coalesce(F.from_json(F.when(F.col(c) != "", F.col(c)), labels_map),
                          F.create_map().cast(labels_map))

    day = F.substring("interval_start", 1, 10)
    u = (read("pod_usage", [("interval_start", S), ("namespace", S), ("node", S), ("pod", S),
                            ("pod_labels", S)] + [(c, D) for c in SECONDS])
         .withColumn("d", day).withColumn("p", parse("pod_labels")))
    nl = (read("node_labels", [("interval_start", S), ("node", S), ("node_labels", S)])
          .select(day.alias("d"), "node", parse("node_labels").alias("n")))
    ns = (read("namespace_labels", [("interval_start", S), ("namespace", S), ("namespace_labels", S)])
          .select(day.alias("d"), "namespace", parse("namespace_labels").alias("s")))

    empty = F.create_map().cast(labels_map)
    merged = F.map_concat(F.coalesce("n", empty), F.coalesce("s", empty), F.col("p"))
    canonical = F.to_json(F.map_from_entries(F.array_sort(F.map_entries(merged))))

    out = (u.join(F.broadcast(nl), ["d", "node"], "left")
           .join(F.broadcast(ns), ["d", "namespace"], "left")
           .groupBy(F.to_date("d").alias("usage_date"), "namespace", "node", canonical.alias("labels"))
           .agg(F.countDistinct("pod").alias("pod_count"),
                *[(F.sum(c) / div).alias(m) for c, div, m in zip(SECONDS, DIVISORS, METRICS)]))
    out.write.mode("overwrite").option("compression", "snappy").parquet(a.out)
    t2 = time.perf_counter()
    app = spark.sparkContext.applicationId
    spark.stop()
    print(f"pyspark: session {t1 - t0:.2f} s, job {t2 - t1:.2f} s, application {app}", file=sys.stderr)
    print(checksum(a.out))


if __name__ == "__main__":
    main()
