#!/usr/bin/env python3
"""Plain PySpark PST job, written the way a Spark user's notebook does it: the file paths
parallelized into partitions, `pypff` (libpff-python) opening each file inside `mapPartitions`,
every folder walked from the root, one row per message and one per attachment, written as Parquet
through DataFrames.

    python3 impl_pyspark_pst.py IN_DIR OUT_DIR [--master local-cluster[2,1,1024]] [--partitions N]

* Inputs: every `*.pst` in IN_DIR (listed on the driver), `sc.parallelize(paths, N)`; N defaults to
  `sc.defaultParallelism` (2 on local-cluster[2,1,1024]: one partition per executor core).
* Per file (bench/pst/libpff_walk.py reads the same fields): for every item of every folder a
  `messages` row: source path, folder path, the item's identifier, subject, sender name,
  recipients as text (`type:name <address>` joined with `; `), plain-text and HTML bodies (libpff
  gives bytes; decoded as UTF-8, invalid bytes replaced), transport headers, conversation topic,
  submit and delivery times, attachment count. Items that are not messages (free/busy data) get a
  row with the path and identifier only, after their raw entries are read, as libpff_walk.py does.
  For every attachment an `attachments` row: source path, the message's identifier, the
  attachment's index, name (long file name, else short, else display name), size, SHA-256 of the
  bytes read with `read_buffer`. Embedded messages are attachments (their bytes are hashed);
  libpff does not walk into them, so they are not `messages` rows.
* A file libpff cannot open or walk is skipped with a row in neither table and counted (the
  notebook's `try/except` around each file); the count is printed.
* The records of both kinds come out of one `mapPartitions` (tagged), persisted (memory and
  disk), and split into two DataFrames with explicit schemas: `OUT_DIR/messages` and
  `OUT_DIR/attachments`, Parquet part files, snappy.

Prints the SparkSession's start-up and the job's time on stderr (`pyspark: session S s, job J s, application ID`)
and one line on stdout: `COUNTS files=F failed=X messages=M attachments=A attachment_bytes=B`
(read back from the written Parquet).
"""
import argparse, glob, os, sys, time

DISPLAY_NAME, EMAIL_ADDRESS, SMTP_ADDRESS, RECIPIENT_TYPE = 0x3001, 0x3003, 0x39FE, 0x0C15
ATTACH_FILENAME = 0x3704  # short file name
STRING_TYPES = (0x1E, 0x1F)
RECIPIENT_KIND = {1: "to", 2: "cc", 3: "bcc"}


def parse_partition(paths):
    """Runs on the executors: one pypff walk per file, yielding ("m", row) and ("a", row)."""
    import hashlib
    import pypff

    def field(item, name):
        try:
            return getattr(item, name)
        except (AttributeError, OSError):
            return None

    def text(b):
        return b.decode("utf-8", "replace") if isinstance(b, bytes) else b

    def strings(item, wanted):
        out = {}
        for record_set in item.record_sets:
            for e in record_set.entries:
                if e.entry_type in wanted and e.value_type in STRING_TYPES:
                    try:
                        out[e.entry_type] = e.data_as_string
                    except (OSError, UnicodeDecodeError):
                        pass
        return out

    def recipients(m):
        table = field(m, "recipients")
        if table is None:
            return None
        out = []
        for record_set in table.record_sets:
            v = {}
            for e in record_set.entries:
                if e.entry_type in (DISPLAY_NAME, EMAIL_ADDRESS, SMTP_ADDRESS) and e.value_type in STRING_TYPES:
                    v[e.entry_type] = e.data_as_string
                elif e.entry_type == RECIPIENT_TYPE and e.data:
                    v[e.entry_type] = int.from_bytes(e.data[:4], "little")
            kind = RECIPIENT_KIND.get(v.get(RECIPIENT_TYPE), str(v.get(RECIPIENT_TYPE)))
            out.append(f"{kind}:{v.get(DISPLAY_NAME) or ''} <{v.get(SMTP_ADDRESS) or v.get(EMAIL_ADDRESS) or ''}>")
        return "; ".join(out)

    def walk(path, folder, folder_path):
        for i in range(folder.number_of_sub_messages):
            m = folder.get_sub_message(i)
            ident = m.identifier
            if not isinstance(m, pypff.message):
                for record_set in m.record_sets:  # free/busy data: raw entries only
                    for e in record_set.entries:
                        _ = e.data
                yield "m", (path, folder_path, ident) + (None,) * 10
                continue
            n = m.number_of_attachments
            yield "m", (path, folder_path, ident, field(m, "subject"), field(m, "sender_name"), recipients(m),
                        text(field(m, "plain_text_body")), text(field(m, "html_body")),
                        field(m, "transport_headers"), field(m, "conversation_topic"),
                        field(m, "client_submit_time"), field(m, "delivery_time"), n)
            for j in range(n):
                a = m.get_attachment(j)
                name = field(a, "long_filename")
                if not name:
                    s = strings(a, (ATTACH_FILENAME, DISPLAY_NAME))
                    name = s.get(ATTACH_FILENAME) or s.get(DISPLAY_NAME)
                size = a.size or 0
                data = a.read_buffer(size) if size else b""
                yield "a", (path, ident, j, name, len(data), hashlib.sha256(data).hexdigest())
        for i in range(folder.number_of_sub_folders):
            try:
                sub = folder.get_sub_folder(i)
            except OSError:
                continue  # search folders
            name = field(sub, "name") or ""
            yield from walk(path, sub, f"{folder_path}/{name}" if folder_path else name)

    for path in paths:
        f = pypff.file()
        try:
            f.open(path)
            rows = list(walk(path, f.get_root_folder(), ""))  # a file's rows only if all of it read
        except (OSError, IOError):
            yield "failed", (path,)
            continue
        finally:
            try:
                f.close()
            except (OSError, IOError):
                pass
        yield from rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("in_dir")
    ap.add_argument("out")
    ap.add_argument("--master", default="local-cluster[2,1,1024]")
    ap.add_argument("--partitions", type=int, default=None, help="default: sc.defaultParallelism")
    a = ap.parse_args()
    paths = sorted(glob.glob(os.path.join(os.path.abspath(a.in_dir), "*.pst")))

    t0 = time.perf_counter()
    from pyspark import StorageLevel
    from pyspark.sql import SparkSession, types as T
    spark = (SparkSession.builder.master(a.master).appName("pst-pyspark")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    sc = spark.sparkContext
    t1 = time.perf_counter()

    S, L, I, TS = T.StringType(), T.LongType(), T.IntegerType(), T.TimestampType()
    messages_schema = T.StructType([T.StructField(n, t) for n, t in [
        ("source_path", S), ("folder_path", S), ("identifier", L), ("subject", S), ("sender_name", S),
        ("recipients", S), ("body_text", S), ("body_html", S), ("transport_headers", S),
        ("conversation_topic", S), ("sent_at", TS), ("received_at", TS), ("attachment_count", I)]])
    attachments_schema = T.StructType([T.StructField(n, t) for n, t in [
        ("source_path", S), ("message_identifier", L), ("attachment_index", I), ("filename", S),
        ("size_bytes", L), ("sha256", S)]])

    n = a.partitions or sc.defaultParallelism
    records = sc.parallelize(paths, n).mapPartitions(parse_partition).persist(StorageLevel.MEMORY_AND_DISK)
    messages = spark.createDataFrame(records.filter(lambda r: r[0] == "m").map(lambda r: r[1]), messages_schema)
    attachments = spark.createDataFrame(records.filter(lambda r: r[0] == "a").map(lambda r: r[1]), attachments_schema)
    messages.write.mode("overwrite").option("compression", "snappy").parquet(os.path.join(a.out, "messages"))
    attachments.write.mode("overwrite").option("compression", "snappy").parquet(os.path.join(a.out, "attachments"))
    failed = records.filter(lambda r: r[0] == "failed").count()
    records.unpersist()
    t2 = time.perf_counter()
    app = sc.applicationId
    spark.stop()
    print(f"pyspark: session {t1 - t0:.2f} s, job {t2 - t1:.2f} s, application {app}", file=sys.stderr)

    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    m = pq.read_table(os.path.join(a.out, "messages"), columns=["identifier"])
    att = pq.read_table(os.path.join(a.out, "attachments"), columns=["size_bytes"])
    print(f"COUNTS files={len(paths)} failed={failed} messages={m.num_rows} attachments={att.num_rows} "
          f"attachment_bytes={pc.sum(att.column(0)).as_py() or 0}")


if __name__ == "__main__":
    main()
