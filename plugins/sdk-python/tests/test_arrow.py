"""The pure-Python IPC codec against pyarrow, value for value: pyarrow writes
and the codec reads, the codec writes and pyarrow reads. Run with plain
CPython: `python3 -m unittest discover plugins/sdk-python/tests`."""

import datetime
import os
import sys
import unittest

import pyarrow as pa

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from runtime_plugin import arrow as A  # noqa: E402


def pa_stream(table, **options):
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(**options)) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def pa_read(data):
    return pa.ipc.open_stream(data).read_all()


N = 1000  # more than a byte of validity bits, odd tails


def sample():
    """Every supported type, with nulls in irregular places."""
    def nulls(values, every=7):
        return [None if i % every == 3 else v for i, v in enumerate(values)]
    cols = {
        "i8": pa.array(nulls([(i % 256) - 128 for i in range(N)]), pa.int8()),
        "i16": pa.array(nulls([i * 31 - 32768 for i in range(N)]), pa.int16()),
        "i32": pa.array(nulls([i * 2_000_003 - 2**31 for i in range(N)]), pa.int32()),
        "i64": pa.array(nulls([i * 9_000_000_000_000_001 % 2**63 - 2**62 for i in range(N)]), pa.int64()),
        "u8": pa.array(nulls([i % 256 for i in range(N)]), pa.uint8()),
        "u16": pa.array(nulls([i * 65 for i in range(N)]), pa.uint16()),
        "u32": pa.array(nulls([i * 4_000_000 for i in range(N)]), pa.uint32()),
        "u64": pa.array(nulls([2**64 - 1 - i for i in range(N)]), pa.uint64()),
        "f32": pa.array(nulls([i * 0.5 for i in range(N)]), pa.float32()),
        "f64": pa.array(nulls([i / 3 for i in range(N)], 5), pa.float64()),
        "b": pa.array(nulls([i % 3 == 0 for i in range(N)], 11), pa.bool_()),
        "s": pa.array(nulls(["row %d é ☃" % i if i % 5 else "" for i in range(N)]), pa.string()),
        "ls": pa.array(nulls(["large %d" % i for i in range(N)], 2), pa.large_string()),
        "bin": pa.array(nulls([bytes([i % 256]) * (i % 4) for i in range(N)]), pa.binary()),
        "lbin": pa.array(nulls([b"\x00\xff" * (i % 3) for i in range(N)]), pa.large_binary()),
        "ts_s": pa.array(nulls(list(range(N))), pa.timestamp("s")),
        "ts_ms": pa.array(nulls([i * 1000 for i in range(N)]), pa.timestamp("ms", "UTC")),
        "ts_us": pa.array(nulls([1_700_000_000_000_000 + i for i in range(N)]), pa.timestamp("us", "Europe/Paris")),
        "ts_ns": pa.array(nulls([-i for i in range(N)]), pa.timestamp("ns")),
        "d32": pa.array(nulls(list(range(N))), pa.date32()),
        "n": pa.nulls(N),
        "dense": pa.array(list(range(N)), pa.int64()),  # no nulls: no validity buffer
    }
    return pa.table(cols)


def as_python(table):
    """pyarrow's values in the codec's representation (timestamps and dates as ints)."""
    out = {}
    for name, col in zip(table.column_names, table.columns):
        t = col.type
        if pa.types.is_timestamp(t) or pa.types.is_date32(t):
            col = col.cast(pa.int64() if pa.types.is_timestamp(t) else pa.int32())
        out[name] = col.to_pylist()
    return out


class PyarrowWritesCodecReads(unittest.TestCase):
    def test_every_type_value_for_value(self):
        table = sample()
        schema, batches = A.decode_stream(pa_stream(table))
        self.assertEqual(len(batches), 1)
        batch = batches[0]
        self.assertEqual(batch.num_rows, N)
        want = as_python(table)
        for f, values in zip(schema.fields, batch.columns):
            self.assertEqual(values, want[f.name], f.name)
        self.assertEqual(schema.field("ts_us").type, A.timestamp("us", "Europe/Paris"))
        self.assertEqual(schema.field("ls").type, A.large_utf8)
        self.assertEqual(schema.field("u64").type, A.uint64)

    def test_nullability_and_metadata(self):
        schema = pa.schema([pa.field("a", pa.int32(), nullable=False, metadata={"unit": "bytes"})],
                           metadata={"source": "test"})
        table = pa.table({"a": pa.array([1, 2], pa.int32())}, schema=schema)
        s, _ = A.decode_stream(pa_stream(table))
        self.assertEqual(s.fields[0], A.Field("a", A.int32, nullable=False, metadata={"unit": "bytes"}))
        self.assertEqual(s.metadata, {"source": "test"})

    def test_sliced_arrays_and_several_batches(self):
        table = sample().slice(13, 500)
        batches = table.to_batches(max_chunksize=77)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as w:
            for b in batches:
                w.write_batch(b)
        _, got = A.decode_stream(sink.getvalue().to_pybytes())
        self.assertEqual([b.num_rows for b in got], [b.num_rows for b in batches])
        merged = {n: sum((b.column(n) for b in got), []) for n in table.column_names}
        self.assertEqual(merged, as_python(table))

    def test_dictionaries_value_for_value(self):
        def column(values, index, value=None):
            return pa.DictionaryArray.from_arrays(pa.array(values[0], index), pa.array(values[1], value))
        table = pa.table({
            "labels": column(([0, 1, None, 0, 2] * 50, ['{"a":"1"}', "", "☃"]), pa.int32()),
            "n": column(([1, 0, 1, None, 0] * 50, [7, -(2**40)]), pa.int8(), pa.int64()),
            "raw": column(([0, 0, 1, 1, 0] * 50, [b"\x00", b"xy"]), pa.uint16(), pa.binary()),
        })
        schema, [batch] = A.decode_stream(pa_stream(table))
        self.assertEqual(schema.field("labels").type, A.dictionary(A.int32, A.utf8))
        self.assertEqual(schema.field("n").type, A.dictionary(A.int8, A.int64))
        self.assertEqual(schema.field("raw").type, A.dictionary(A.uint16, A.binary))
        for name in table.column_names:
            self.assertEqual(batch.column(name), table.column(name).to_pylist(), name)
        # A new dictionary per batch (replacement), then deltas: each batch
        # reads with the dictionary in force when it was written.
        parts = [pa.DictionaryArray.from_arrays(pa.array([0, 1, 0], pa.int32()), pa.array(["x", "y"])),
                 pa.DictionaryArray.from_arrays(pa.array([2, None, 2], pa.int32()), pa.array(["x", "y", "z"]))]
        for deltas in (False, True):
            sink = pa.BufferOutputStream()
            batches = [pa.record_batch([p], names=["d"]) for p in parts]
            options = pa.ipc.IpcWriteOptions(emit_dictionary_deltas=deltas)
            with pa.ipc.new_stream(sink, batches[0].schema, options=options) as w:
                for b in batches:
                    w.write_batch(b)
            _, got = A.decode_stream(sink.getvalue().to_pybytes())
            self.assertEqual([b.column("d") for b in got], [["x", "y", "x"], ["z", None, "z"]], deltas)

    def test_dictionary_keys_out_of_bounds_are_errors(self):
        bad = pa.DictionaryArray.from_arrays(pa.array([0, 3], pa.int32()), pa.array(["a", "b"]), safe=False)
        with self.assertRaisesRegex(A.ArrowError, "column 'd': row 1 has dictionary key 3, the dictionary holds 2"):
            A.decode_stream(pa_stream(pa.table({"d": bad})))

    def test_empty_batch_and_schema_only(self):
        table = sample().slice(0, 0)
        batch = A.decode_batch(pa_stream(table))
        self.assertEqual(batch.num_rows, 0)
        self.assertEqual(batch.columns, [[] for _ in table.column_names])
        self.assertEqual(A.decode_schema(table.schema.serialize().to_pybytes() + b"\xff\xff\xff\xff\0\0\0\0").names,
                         table.column_names)

    def test_unsupported_features_are_rejected_by_name(self):
        cases = [
            (pa.table({"l": pa.array([[1], [2, 3]])}), "column 'l': type list is not supported"),
            (pa.table({"st": pa.array([{"x": 1}])}), "column 'st': type struct is not supported"),
            (pa.table({"dd": pa.array([1], pa.decimal128(5, 2)).dictionary_encode()}),
             "column 'dd': type decimal is not supported"),
            (pa.table({"t": pa.array([1], pa.time64("us"))}),
             "column 't': type time is not supported"),
            (pa.table({"dec": pa.array([1], pa.decimal128(5, 2))}), "column 'dec': type decimal is not supported"),
        ]
        for table, message in cases:
            with self.assertRaises(A.UnsupportedArrow) as e:
                A.decode_stream(pa_stream(table))
            self.assertEqual(str(e.exception), message)
        with self.assertRaisesRegex(A.UnsupportedArrow, "compressed record batches are not supported"):
            A.decode_stream(pa_stream(pa.table({"a": list(range(100))}), compression="zstd"))

    def test_malformed_streams_fail_cleanly(self):
        data = pa_stream(sample())
        for cut in (3, 9, 200, len(data) // 2, len(data) - 9):
            with self.assertRaises(A.ArrowError, msg="cut at %d" % cut):
                A.decode_stream(data[:cut])
        with self.assertRaisesRegex(A.ArrowError, "no schema"):
            A.decode_stream(b"")


class CodecWritesPyarrowReads(unittest.TestCase):
    def test_every_type_value_for_value(self):
        table = sample()
        schema, [batch] = A.decode_stream(pa_stream(table))
        back = pa_read(A.encode_batch(batch))
        self.assertTrue(back.schema.equals(table.schema), back.schema)
        self.assertTrue(back.equals(table))

    def test_built_from_python_values(self):
        schema = A.Schema([
            A.Field("name", A.utf8), A.Field("n", A.int64, nullable=False), A.Field("ok", A.bool_),
            A.Field("at", A.timestamp("us", "UTC")), A.Field("day", A.date32), A.Field("raw", A.binary),
            A.Field("x", A.float64), A.Field("nothing", A.null),
        ], metadata={"k": "v"})
        at = datetime.datetime(2024, 3, 1, 12, 30, 5, 250, tzinfo=datetime.timezone.utc)
        rows = [
            {"name": "ada", "n": 1, "ok": True, "at": at, "day": datetime.date(2024, 3, 1), "raw": b"\x01", "x": 1.5},
            {"name": None, "n": -2, "ok": None, "at": None, "day": None, "raw": None, "x": None},
            {"name": "", "n": 2**62, "ok": False, "at": 5, "day": 3, "raw": b"", "x": float("inf")},
        ]
        back = pa_read(A.encode_batch(A.Batch.from_rows(schema, rows)))
        self.assertEqual(back.schema.metadata, {b"k": b"v"})
        self.assertFalse(back.schema.field("n").nullable)
        self.assertEqual(back.column("name").to_pylist(), ["ada", None, ""])
        self.assertEqual(back.column("n").to_pylist(), [1, -2, 2**62])
        self.assertEqual(back.column("ok").to_pylist(), [True, None, False])
        self.assertEqual(back.column("at").cast(pa.int64()).to_pylist(), [1709296205000250, None, 5])
        self.assertEqual(back.column("day").cast(pa.int32()).to_pylist(), [19783, None, 3])
        self.assertEqual(back.column("raw").to_pylist(), [b"\x01", None, b""])
        self.assertEqual(back.column("x").to_pylist(), [1.5, None, float("inf")])
        self.assertEqual(back.column("nothing").null_count, 3)
        self.assertEqual(back.num_rows, 3)

    def test_dictionaries(self):
        schema = A.Schema([A.Field("labels", A.dictionary(A.int32, A.utf8)),
                           A.Field("code", A.dictionary(A.uint8, A.int64), nullable=False),
                           A.Field("raw", A.dictionary(A.int16, A.binary))])
        labels = ['{"a":"1"}', None, '{"a":"1"}', "", "☃", ""]
        batch = A.Batch(schema, [labels, [5, 5, -1, 5, 2**40, -1], [b"x", bytearray(b"x"), None, b"", b"", b"x"]])
        data = A.encode_batch(batch)
        back = pa_read(data)
        self.assertEqual(back.schema, pa.schema([
            ("labels", pa.dictionary(pa.int32(), pa.string())),
            pa.field("code", pa.dictionary(pa.uint8(), pa.int64()), nullable=False),
            ("raw", pa.dictionary(pa.int16(), pa.binary()))]))
        self.assertEqual(back.column("labels").to_pylist(), labels)
        [chunk] = back.column("labels").chunks
        self.assertEqual(chunk.dictionary.to_pylist(), ['{"a":"1"}', "", "☃"])  # each value once
        self.assertEqual(back.column("code").to_pylist(), [5, 5, -1, 5, 2**40, -1])
        self.assertEqual(back.column("raw").to_pylist(), [b"x", b"x", None, b"", b"", b"x"])
        again = A.decode_batch(data)
        self.assertEqual((again.schema, again.columns[0]), (schema, labels))
        small = A.Schema([A.Field("d", A.dictionary(A.int8, A.int64))])
        A.encode_batch(A.Batch(small, [list(range(128))]))
        with self.assertRaisesRegex(A.ArrowError, "column 'd': 129 distinct values do not fit int8 keys"):
            A.encode_batch(A.Batch(small, [list(range(129))]))
        with self.assertRaisesRegex(ValueError, "index type must be an integer type"):
            A.dictionary(A.utf8, A.utf8)

    def test_schema_only_stream(self):
        schema = A.Schema([A.Field("a", A.uint16), A.Field("b", A.large_binary, nullable=False)])
        reader = pa.ipc.open_stream(A.encode_schema(schema))
        self.assertEqual(reader.schema, pa.schema([("a", pa.uint16()), pa.field("b", pa.large_binary(), False)]))
        self.assertEqual(reader.read_all().num_rows, 0)

    def test_bad_values_are_clear_errors(self):
        schema = A.Schema([A.Field("n", A.int64, nullable=False)])
        with self.assertRaisesRegex(A.ArrowError, "column 'n' is not nullable but holds 1 None values"):
            A.encode_batch(A.Batch.from_rows(schema, [{"n": None}]))
        with self.assertRaisesRegex(A.ArrowError, "column 'n' \\(int64\\): cannot encode 'seven'"):
            A.encode_batch(A.Batch.from_rows(schema, [{"n": "seven"}]))
        with self.assertRaisesRegex(A.ArrowError, "column 'n' has 1 values, the batch 2 rows"):
            A.Batch(schema, [[1]], 2)


if __name__ == "__main__":
    unittest.main()
