"""A small pure-Python Arrow IPC stream codec: what crosses the sandbox.

pyarrow cannot run inside a component, so Python plugins see batches through
this module: a `Schema` of `Field`s and a `Batch` holding one Python list per
column. It decodes and encodes the IPC stream format (schema message, record
batch messages, end-of-stream marker) for these types:

    int8..int64, uint8..uint64    Python int
    float32, float64              Python float (float16 is rejected)
    bool                          Python bool
    utf8, large_utf8              Python str
    binary, large_binary          Python bytes
    timestamp(unit, tz)           Python int in `unit` since the epoch
                                  (encode also takes datetime.datetime)
    date32                        Python int, days since the epoch
    null                          None
    dictionary(index, value)      the value type's Python values: a column
                                  holds each row's value, as if plain;
                                  encoding stores each distinct value once

Every column may hold None (validity bitmaps are read and written). Anything
else (nested types, compression, big-endian data, views, decimals) raises
`UnsupportedArrow` naming the field and the type, instead of misreading the
data.
"""

import datetime
import struct

__all__ = [
    "ArrowError", "UnsupportedArrow", "DataType", "Field", "Schema", "Batch",
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float32", "float64", "bool_", "utf8", "large_utf8", "binary", "large_binary",
    "date32", "null", "timestamp", "dictionary", "DictionaryType",
    "decode_stream", "decode_schema", "decode_batch", "encode_schema", "encode_batch",
]


class ArrowError(ValueError):
    """Malformed Arrow IPC data."""


class UnsupportedArrow(ArrowError):
    """Well-formed Arrow IPC using a feature this codec does not handle."""


# ---------------------------------------------------------------- data types

class DataType:
    """An Arrow type this codec supports. Compare with ==; print for its name."""

    __slots__ = ("kind", "bits", "signed", "unit", "tz")

    def __init__(self, kind, bits=0, signed=True, unit=None, tz=None):
        self.kind, self.bits, self.signed, self.unit, self.tz = kind, bits, signed, unit, tz

    def _key(self):
        return (self.kind, self.bits, self.signed, self.unit, self.tz)

    def __eq__(self, other):
        return isinstance(other, DataType) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        if self.kind == "int":
            return ("int" if self.signed else "uint") + str(self.bits)
        if self.kind == "float":
            return "float" + str(self.bits)
        if self.kind == "timestamp":
            return "timestamp[%s%s]" % (self.unit, ", tz=" + self.tz if self.tz else "")
        return self.kind


int8, int16, int32, int64 = (DataType("int", b, True) for b in (8, 16, 32, 64))
uint8, uint16, uint32, uint64 = (DataType("int", b, False) for b in (8, 16, 32, 64))
float32, float64 = DataType("float", 32), DataType("float", 64)
bool_ = DataType("bool")
utf8, large_utf8 = DataType("utf8"), DataType("large_utf8")
binary, large_binary = DataType("binary"), DataType("large_binary")
date32 = DataType("date32")
null = DataType("null")

_UNITS = ("s", "ms", "us", "ns")
_PER_SECOND = {"s": 1, "ms": 1000, "us": 1000000, "ns": 1000000000}


def timestamp(unit="us", tz=None):
    """A timestamp type: `unit` is one of s, ms, us, ns; `tz` an optional zone name."""
    if unit not in _UNITS:
        raise ValueError("timestamp unit must be one of s, ms, us, ns, not %r" % (unit,))
    return DataType("timestamp", 64, True, unit, tz)


class DictionaryType(DataType):
    """dictionary<index, value>: each distinct value stored once per batch,
    and an integer key per row. In Python the column holds the values."""

    __slots__ = ("index", "value")

    def __init__(self, index, value):
        DataType.__init__(self, "dictionary")
        self.index, self.value = index, value

    def _key(self):
        return ("dictionary", self.index._key(), self.value._key())

    def __repr__(self):
        return "dictionary<%r, %r>" % (self.index, self.value)


def dictionary(index, value):
    """A dictionary type: `index` an integer type (the keys), `value` any other
    supported type but null (the values), as in `dictionary(int32, utf8)`."""
    if not (isinstance(index, DataType) and index.kind == "int"):
        raise ValueError("a dictionary's index type must be an integer type, not %r" % (index,))
    if not isinstance(value, DataType) or value.kind in ("dictionary", "null"):
        raise ValueError("a dictionary's value type cannot be %r" % (value,))
    return DictionaryType(index, value)


class Field:
    __slots__ = ("name", "type", "nullable", "metadata")

    def __init__(self, name, type, nullable=True, metadata=None):
        self.name, self.type, self.nullable = name, type, nullable
        self.metadata = dict(metadata or {})

    def __eq__(self, other):
        return isinstance(other, Field) and (self.name, self.type, self.nullable, self.metadata) == (
            other.name, other.type, other.nullable, other.metadata)

    def __repr__(self):
        return "Field(%r, %r%s)" % (self.name, self.type, "" if self.nullable else ", nullable=False")


class Schema:
    __slots__ = ("fields", "metadata")

    def __init__(self, fields, metadata=None):
        self.fields = list(fields)
        self.metadata = dict(metadata or {})

    @property
    def names(self):
        return [f.name for f in self.fields]

    def index(self, name):
        """Position of the field named `name`; KeyError when there is none."""
        for i, f in enumerate(self.fields):
            if f.name == name:
                return i
        raise KeyError("no column %r (the schema has: %s)" % (name, ", ".join(self.names)))

    def field(self, name):
        return self.fields[self.index(name)]

    def __eq__(self, other):
        return isinstance(other, Schema) and (self.fields, self.metadata) == (other.fields, other.metadata)

    def __repr__(self):
        return "Schema(%r)" % (self.fields,)


class Batch:
    """A record batch: a schema and one Python list per column."""

    __slots__ = ("schema", "columns", "num_rows")

    def __init__(self, schema, columns, num_rows=None):
        self.schema = schema
        self.columns = [list(c) for c in columns]
        if len(self.columns) != len(schema.fields):
            raise ArrowError("%d columns for a schema of %d fields" % (len(self.columns), len(schema.fields)))
        if num_rows is None:
            num_rows = len(self.columns[0]) if self.columns else 0
        for f, c in zip(schema.fields, self.columns):
            if len(c) != num_rows:
                raise ArrowError("column %r has %d values, the batch %d rows" % (f.name, len(c), num_rows))
        self.num_rows = num_rows

    @classmethod
    def from_rows(cls, schema, rows):
        """A batch from dicts keyed by column name (a missing key is None)."""
        names = schema.names
        return cls(schema, [[r.get(n) for r in rows] for n in names], len(rows))

    @classmethod
    def from_columns(cls, schema, columns):
        """A batch from a dict of column name -> list of values."""
        missing = [n for n in schema.names if n not in columns]
        extra = [n for n in columns if n not in schema.names]
        if missing or extra:
            raise ArrowError("columns do not match the schema: missing %s, unknown %s" % (missing, extra))
        return cls(schema, [columns[n] for n in schema.names])

    def column(self, name):
        return self.columns[self.schema.index(name)]

    def to_rows(self):
        names = self.schema.names
        return [dict(zip(names, values)) for values in zip(*self.columns)] if names else [
            {} for _ in range(self.num_rows)]

    def select(self, names):
        """A batch of only the named columns, in the order given."""
        idx = [self.schema.index(n) for n in names]
        return Batch(Schema([self.schema.fields[i] for i in idx], self.schema.metadata),
                     [self.columns[i] for i in idx], self.num_rows)

    def __repr__(self):
        return "Batch(%d rows, %r)" % (self.num_rows, self.schema)


# ------------------------------------------------------- flatbuffers: reading

class _Table:
    """A flatbuffers table at `pos` of `buf`."""

    __slots__ = ("buf", "pos", "vt", "vt_len")

    def __init__(self, buf, pos):
        if pos < 0 or pos + 4 > len(buf):
            raise ArrowError("flatbuffer table out of bounds")
        self.buf, self.pos = buf, pos
        self.vt = pos - struct.unpack_from("<i", buf, pos)[0]
        if self.vt < 0 or self.vt + 4 > len(buf):
            raise ArrowError("flatbuffer vtable out of bounds")
        self.vt_len = struct.unpack_from("<H", buf, self.vt)[0]

    def _off(self, slot):
        o = 4 + 2 * slot
        if o + 2 > self.vt_len:
            return 0
        return struct.unpack_from("<H", self.buf, self.vt + o)[0]

    def scalar(self, slot, fmt, default=0):
        o = self._off(slot)
        return default if o == 0 else struct.unpack_from("<" + fmt, self.buf, self.pos + o)[0]

    def _deref(self, slot):
        o = self._off(slot)
        if o == 0:
            return None
        at = self.pos + o
        return at + struct.unpack_from("<I", self.buf, at)[0]

    def table(self, slot):
        at = self._deref(slot)
        return None if at is None else _Table(self.buf, at)

    def string(self, slot):
        at = self._deref(slot)
        if at is None:
            return None
        n = struct.unpack_from("<I", self.buf, at)[0]
        if at + 4 + n > len(self.buf):
            raise ArrowError("flatbuffer string out of bounds")
        return bytes(self.buf[at + 4:at + 4 + n]).decode("utf-8")

    def vector(self, slot):
        """(start of elements, count), or (0, 0) when absent."""
        at = self._deref(slot)
        if at is None:
            return 0, 0
        return at + 4, struct.unpack_from("<I", self.buf, at)[0]

    def tables(self, slot):
        start, n = self.vector(slot)
        out = []
        for i in range(n):
            at = start + 4 * i
            out.append(_Table(self.buf, at + struct.unpack_from("<I", self.buf, at)[0]))
        return out


# Message header union
_SCHEMA, _DICTIONARY, _RECORD_BATCH = 1, 2, 3
# Type union
_T_NULL, _T_INT, _T_FLOAT, _T_BINARY, _T_UTF8, _T_BOOL, _T_DATE, _T_TIMESTAMP = 1, 2, 3, 4, 5, 6, 8, 10
_T_LARGE_BINARY, _T_LARGE_UTF8 = 19, 20
_TYPE_NAMES = {7: "decimal", 9: "time", 11: "interval", 12: "list", 13: "struct", 14: "union",
               15: "fixed_size_binary", 16: "fixed_size_list", 17: "map", 18: "duration",
               21: "large_list", 22: "run_end_encoded", 23: "binary_view", 24: "utf8_view",
               25: "list_view", 26: "large_list_view"}


def _metadata(t, slot):
    return {kv.string(0): kv.string(1) for kv in t.tables(slot)}


def _read_type(field, name):
    tt = field.scalar(2, "B")
    ty = field.table(3)
    if tt == _T_INT:
        bits, signed = ty.scalar(0, "i"), bool(ty.scalar(1, "B"))
        if bits not in (8, 16, 32, 64):
            raise UnsupportedArrow("column %r: int of %d bits" % (name, bits))
        return DataType("int", bits, signed)
    if tt == _T_FLOAT:
        precision = ty.scalar(0, "h")
        if precision == 0:
            raise UnsupportedArrow("column %r: type float16 is not supported" % (name,))
        return float32 if precision == 1 else float64
    if tt == _T_UTF8:
        return utf8
    if tt == _T_LARGE_UTF8:
        return large_utf8
    if tt == _T_BINARY:
        return binary
    if tt == _T_LARGE_BINARY:
        return large_binary
    if tt == _T_BOOL:
        return bool_
    if tt == _T_NULL:
        return null
    if tt == _T_DATE:
        if ty.scalar(0, "h", 1) != 0:
            raise UnsupportedArrow("column %r: type date64 is not supported" % (name,))
        return date32
    if tt == _T_TIMESTAMP:
        return timestamp(_UNITS[ty.scalar(0, "h")], ty.string(1))
    raise UnsupportedArrow("column %r: type %s is not supported" % (name, _TYPE_NAMES.get(tt, "#%d" % tt)))


def _read_schema(t):
    """The schema, and the dictionary id of each field (None when plain)."""
    if t.scalar(0, "h") != 0:
        raise UnsupportedArrow("big-endian Arrow data is not supported")
    fields, ids = [], []
    for f in t.tables(1):
        name = f.string(0) or ""
        ty = _read_type(f, name)
        if f.vector(5)[1]:
            raise UnsupportedArrow("column %r: nested types are not supported" % (name,))
        encoding = f.table(4)
        ids.append(None if encoding is None else encoding.scalar(0, "q"))
        if encoding is not None:
            if ty.kind == "null":
                raise UnsupportedArrow("column %r: a dictionary of nulls is not supported" % (name,))
            index = encoding.table(1)
            bits, signed = (32, True) if index is None else (index.scalar(0, "i"), bool(index.scalar(1, "B")))
            if bits not in (8, 16, 32, 64):
                raise UnsupportedArrow("column %r: dictionary keys of %d bits" % (name, bits))
            ty = DictionaryType(DataType("int", bits, signed), ty)
        fields.append(Field(name, ty, bool(f.scalar(1, "B")), _metadata(f, 6)))
    return Schema(fields, _metadata(t, 2)), ids


def _messages(data):
    """Yields (header type, header table, body) of every message in a stream."""
    buf = memoryview(bytes(data)) if not isinstance(data, (bytes, bytearray)) else memoryview(data)
    pos = 0
    while pos < len(buf):
        if pos + 4 > len(buf):
            raise ArrowError("truncated message length at byte %d" % pos)
        n = struct.unpack_from("<i", buf, pos)[0]
        pos += 4
        if n == -1:  # continuation marker, then the length
            if pos + 4 > len(buf):
                raise ArrowError("truncated message length at byte %d" % pos)
            n = struct.unpack_from("<i", buf, pos)[0]
            pos += 4
        if n == 0:
            return
        if n < 0 or pos + n > len(buf):
            raise ArrowError("message of %d bytes at byte %d runs past the stream end (%d bytes)" % (n, pos, len(buf)))
        meta = buf[pos:pos + n]
        pos += n
        msg = _Table(meta, struct.unpack_from("<I", meta, 0)[0])
        body_len = msg.scalar(3, "q")
        if body_len < 0 or pos + body_len > len(buf):
            raise ArrowError("message body of %d bytes runs past the stream end" % body_len)
        body = buf[pos:pos + body_len]
        pos += body_len
        yield msg.scalar(1, "B"), msg.table(2), body


def _bits(buf, n):
    b = bytes(buf)
    return [(b[i >> 3] >> (i & 7)) & 1 == 1 for i in range(n)]


_INT_FMT = {(8, True): "b", (16, True): "h", (32, True): "i", (64, True): "q",
            (8, False): "B", (16, False): "H", (32, False): "I", (64, False): "Q"}


def _fmt(ty):
    if ty.kind == "int":
        return _INT_FMT[(ty.bits, ty.signed)]
    if ty.kind == "float":
        return "f" if ty.bits == 32 else "d"
    if ty.kind in ("timestamp",):
        return "q"
    if ty.kind == "date32":
        return "i"
    return None


def _read_batch(schema, t, body, dictionaries=()):
    """The batch of record batch table `t`; `dictionaries` holds the current
    values of each dictionary-encoded field, by position."""
    if t.table(3) is not None:
        raise UnsupportedArrow("compressed record batches are not supported")
    length = t.scalar(0, "q")
    nstart, nn = t.vector(1)
    bstart, nb = t.vector(2)
    nodes = [struct.unpack_from("<qq", t.buf, nstart + 16 * i) for i in range(nn)]
    buffers = [struct.unpack_from("<qq", t.buf, bstart + 16 * i) for i in range(nb)]
    if nn != len(schema.fields):
        raise ArrowError("record batch has %d field nodes, the schema %d fields" % (nn, len(schema.fields)))
    cursor = [0]

    def take():
        if cursor[0] >= len(buffers):
            raise ArrowError("record batch has too few buffers")
        off, ln = buffers[cursor[0]]
        cursor[0] += 1
        if off < 0 or ln < 0 or off + ln > len(body):
            raise ArrowError("buffer [%d, +%d) lies outside the %d-byte body" % (off, ln, len(body)))
        return body[off:off + ln]

    columns = []
    for col, (f, (n, null_count)) in enumerate(zip(schema.fields, nodes)):
        ty = f.type.index if f.type.kind == "dictionary" else f.type
        if ty.kind == "null":
            columns.append([None] * n)
            continue
        validity = take()
        valid = _bits(validity, n) if null_count and len(validity) else None
        fmt = _fmt(ty)
        if fmt is not None:
            data = take()
            size = struct.calcsize(fmt)
            if len(data) < n * size:
                raise ArrowError("column %r: %d bytes of values for %d rows" % (f.name, len(data), n))
            values = list(struct.unpack_from("<%d%s" % (n, fmt), data, 0))
        elif ty.kind == "bool":
            data = take()
            if len(data) * 8 < n:
                raise ArrowError("column %r: %d bytes of booleans for %d rows" % (f.name, len(data), n))
            values = _bits(data, n)
        else:
            large = ty.kind in ("large_utf8", "large_binary")
            offsets_buf, data = take(), bytes(take())
            ofmt = "q" if large else "i"
            if n and len(offsets_buf) < (n + 1) * (8 if large else 4):
                raise ArrowError("column %r: too few offsets for %d rows" % (f.name, n))
            offsets = struct.unpack_from("<%d%s" % (n + 1, ofmt), offsets_buf, 0) if n else (0,)
            if n and (offsets[-1] > len(data) or offsets[0] < 0):
                raise ArrowError("column %r: offsets run past the %d data bytes" % (f.name, len(data)))
            if ty.kind in ("utf8", "large_utf8"):
                try:
                    values = [data[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n)]
                except UnicodeDecodeError as e:
                    raise ArrowError("column %r: invalid UTF-8: %s" % (f.name, e))
            else:
                values = [data[offsets[i]:offsets[i + 1]] for i in range(n)]
        if f.type.kind == "dictionary":
            values = _look_up(f.name, values, valid, dictionaries[col])
        elif valid is not None:
            values = [v if ok else None for v, ok in zip(values, valid)]
        columns.append(values)
    return Batch(schema, columns, length)


def _look_up(name, keys, valid, dictionary):
    """Each row's value from its key; a null row's key may be anything."""
    out = [None] * len(keys)
    n = len(dictionary)
    for row, k in enumerate(keys):
        if valid is not None and not valid[row]:
            continue
        if not 0 <= k < n:
            raise ArrowError("column %r: row %d has dictionary key %d, the dictionary holds %d values"
                             % (name, row, k, n))
        out[row] = dictionary[k]
    return out


def _read_dictionary(schema, ids, dictionaries, t, body):
    """Applies dictionary batch `t`: new values for a field, or more (delta)."""
    dict_id = t.scalar(0, "q")
    if dict_id not in ids:
        raise ArrowError("dictionary batch for id %d, which no column uses" % dict_id)
    data = t.table(1)
    if data is None:
        raise ArrowError("dictionary batch %d holds no data" % dict_id)
    # Columns may share a dictionary: decode it once, for all of them.
    users = [i for i, d in enumerate(ids) if d == dict_id]
    f = schema.fields[users[0]]
    values = _read_batch(Schema([Field(f.name, f.type.value)]), data, body).columns[0]
    delta = t.scalar(2, "B")
    for i in users:
        dictionaries[i] = dictionaries[i] + values if delta else values


def decode_stream(data):
    """(schema, [batches]) of an Arrow IPC stream."""
    schema, batches = None, []
    for kind, header, body in _messages(data):
        if kind == _SCHEMA:
            schema, ids = _read_schema(header)
            dictionaries = [None if d is None else [] for d in ids]
        elif kind == _RECORD_BATCH:
            if schema is None:
                raise ArrowError("record batch before the schema message")
            batches.append(_read_batch(schema, header, body, dictionaries))
        elif kind == _DICTIONARY:
            if schema is None:
                raise ArrowError("dictionary batch before the schema message")
            _read_dictionary(schema, ids, dictionaries, header, body)
        else:
            raise UnsupportedArrow("IPC message type %d is not supported" % kind)
    if schema is None:
        raise ArrowError("the stream has no schema message")
    return schema, batches


def decode_schema(data):
    return decode_stream(data)[0]


def decode_batch(data):
    """The single batch of a stream (an empty batch when it has none)."""
    schema, batches = decode_stream(data)
    if len(batches) > 1:
        raise ArrowError("expected one record batch, the stream has %d" % len(batches))
    return batches[0] if batches else Batch(schema, [[] for _ in schema.fields], 0)


# ------------------------------------------------------- flatbuffers: writing
#
# Objects are laid out front to back: a table's vtable, the table, then its
# children (strings, vectors, tables), so every unsigned offset points forward.

class _W:
    def __init__(self):
        self.buf = bytearray()

    def pad(self, align, rem=0):
        while len(self.buf) % align != rem:
            self.buf.append(0)

    def table(self, fields):
        """fields: [(slot, fmt, value)] with fmt a struct code, or 'o' for a child
        (a callable writing it and returning its position)."""
        slots = max((s for s, _, _ in fields), default=-1) + 1
        # inline layout: soffset, then fields sorted by size for alignment
        layout, size = {}, 4
        for slot, fmt, _ in sorted(fields, key=lambda f: -struct.calcsize("<" + ("I" if f[1] == "o" else f[1]))):
            n = struct.calcsize("<" + ("I" if fmt == "o" else fmt))
            size += (-size) % n
            layout[slot] = size
            size += n
        size += (-size) % 8
        vt_len = 4 + 2 * slots
        # the table starts 8-aligned just after the vtable
        self.pad(2)
        while (len(self.buf) + vt_len) % 8:
            self.buf += b"\0\0"
        vt = len(self.buf)
        self.buf += struct.pack("<HH", vt_len, size)
        for s in range(slots):
            self.buf += struct.pack("<H", layout.get(s, 0))
        pos = len(self.buf)
        self.buf += bytes(size)
        struct.pack_into("<i", self.buf, pos, pos - vt)
        children = []
        for slot, fmt, value in fields:
            if fmt == "o":
                children.append((pos + layout[slot], value))
            else:
                struct.pack_into("<" + fmt, self.buf, pos + layout[slot], value)
        for at, write in children:
            struct.pack_into("<I", self.buf, at, write() - at)
        return pos

    def string(self, s):
        def write():
            b = s.encode("utf-8")
            self.pad(4)
            pos = len(self.buf)
            self.buf += struct.pack("<I", len(b)) + b + b"\0"
            return pos
        return write

    def tables(self, items):
        def write():
            self.pad(4)
            pos = len(self.buf)
            self.buf += struct.pack("<I", len(items)) + bytes(4 * len(items))
            for i, item in enumerate(items):
                at = pos + 4 + 4 * i
                struct.pack_into("<I", self.buf, at, item() - at)
            return pos
        return write

    def structs(self, packed, count):
        def write():
            self.pad(8, 4)
            pos = len(self.buf)
            self.buf += struct.pack("<I", count) + packed
            return pos
        return write

    def sub(self, fields):
        return lambda: self.table(fields)


def _kv(w, metadata):
    return w.tables([w.sub([(0, "o", w.string(k)), (1, "o", w.string(v))]) for k, v in metadata.items()])


def _type_fields(w, ty):
    k = ty.kind
    if k == "int":
        return _T_INT, [(0, "i", ty.bits), (1, "B", 1 if ty.signed else 0)]
    if k == "float":
        return _T_FLOAT, [(0, "h", 1 if ty.bits == 32 else 2)]
    if k == "timestamp":
        f = [(0, "h", _UNITS.index(ty.unit))]
        if ty.tz:
            f.append((1, "o", w.string(ty.tz)))
        return _T_TIMESTAMP, f
    if k == "date32":
        return _T_DATE, [(0, "h", 0)]
    codes = {"utf8": _T_UTF8, "large_utf8": _T_LARGE_UTF8, "binary": _T_BINARY,
             "large_binary": _T_LARGE_BINARY, "bool": _T_BOOL, "null": _T_NULL}
    if k in codes:
        return codes[k], []
    raise UnsupportedArrow("type %r is not supported" % (ty,))


def _schema_table(w, schema):
    fields = []
    for i, f in enumerate(schema.fields):
        if not isinstance(f.type, DataType):
            raise UnsupportedArrow("column %r: %r is not a runtime_plugin.arrow type" % (f.name, f.type))
        encoded = f.type.kind == "dictionary"
        code, tfields = _type_fields(w, f.type.value if encoded else f.type)
        entry = [(0, "o", w.string(f.name)), (1, "B", 1 if f.nullable else 0), (2, "B", code),
                 (3, "o", w.sub(tfields)), (5, "o", w.tables([]))]
        if encoded:
            # The field's position is its dictionary id.
            index = w.sub([(0, "i", f.type.index.bits), (1, "B", 1 if f.type.index.signed else 0)])
            entry.append((4, "o", w.sub([(0, "q", i), (1, "o", index), (2, "B", 0)])))
        if f.metadata:
            entry.append((6, "o", _kv(w, f.metadata)))
        fields.append(w.sub(entry))
    out = [(0, "h", 0), (1, "o", w.tables(fields))]
    if schema.metadata:
        out.append((2, "o", _kv(w, schema.metadata)))
    return out


def _message(header_type, header, body_len):
    w = _W()
    w.buf += bytes(4)  # root offset
    pos = w.table([(0, "h", 4), (1, "B", header_type), (2, "o", w.sub(header(w))), (3, "q", body_len)])
    struct.pack_into("<I", w.buf, 0, pos)
    w.pad(8)
    return b"\xff\xff\xff\xff" + struct.pack("<i", len(w.buf)) + bytes(w.buf)


_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"


def _schema_message(schema):
    return _message(_SCHEMA, lambda w: _schema_table(w, schema), 0)


def encode_schema(schema):
    """An IPC stream holding only `schema`."""
    return _schema_message(schema) + _EOS


def _bitmap(flags):
    out = bytearray((len(flags) + 7) // 8)
    for i, f in enumerate(flags):
        if f:
            out[i >> 3] |= 1 << (i & 7)
    return bytes(out)


def _to_int(f, v):
    if isinstance(v, datetime.datetime) and f.type.kind == "timestamp":
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        delta = v - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        micros = (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds
        return micros * _PER_SECOND[f.type.unit] // 1000000
    if isinstance(v, datetime.date) and f.type.kind == "date32":
        return (v - datetime.date(1970, 1, 1)).days
    return v


def _column_buffers(f, values):
    ty = f.type
    n = len(values)
    if ty.kind == "null":
        if any(v is not None for v in values):
            raise ArrowError("column %r (null) holds a value that is not None" % (f.name,))
        return n, []
    nulls = sum(1 for v in values if v is None)
    if nulls and not f.nullable:
        raise ArrowError("column %r is not nullable but holds %d None values" % (f.name, nulls))
    validity = _bitmap([v is not None for v in values]) if nulls else b""
    fmt = _fmt(ty)
    try:
        if fmt is not None:
            zero = 0.0 if ty.kind == "float" else 0
            data = struct.pack("<%d%s" % (n, fmt), *[zero if v is None else _to_int(f, v) for v in values])
            bufs = [validity, data]
        elif ty.kind == "bool":
            bufs = [validity, _bitmap([bool(v) for v in values])]
        else:
            text = ty.kind in ("utf8", "large_utf8")
            parts = [b"" if v is None else (v.encode("utf-8") if text else bytes(v)) for v in values]
            offsets, at = [0], 0
            for p in parts:
                at += len(p)
                offsets.append(at)
            large = ty.kind in ("large_utf8", "large_binary")
            if not large and at > 0x7FFFFFFF:
                raise ArrowError("column %r: more than 2 GiB of data; use a large_ type" % (f.name,))
            bufs = [validity, struct.pack("<%d%s" % (n + 1, "q" if large else "i"), *offsets), b"".join(parts)]
    except (struct.error, TypeError, AttributeError) as e:
        bad = next((v for v in values if v is not None and not _fits(ty, v)), None)
        raise ArrowError("column %r (%r): cannot encode %r: %s" % (f.name, ty, bad, e))
    return nulls, bufs


def _fits(ty, v):
    if ty.kind in ("int", "timestamp", "date32"):
        return isinstance(v, (int, datetime.date)) and not isinstance(v, bool)
    if ty.kind == "float":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if ty.kind in ("utf8", "large_utf8"):
        return isinstance(v, str)
    if ty.kind in ("binary", "large_binary"):
        return isinstance(v, (bytes, bytearray, memoryview))
    return True


def _encode_keys(f, values):
    """(keys with None for null rows, distinct values in first-seen order) of
    a dictionary column."""
    binary = f.type.value.kind in ("binary", "large_binary")
    index_of, distinct, keys = {}, [], []
    for v in values:
        if v is None:
            keys.append(None)
            continue
        k = bytes(v) if binary and isinstance(v, (bytearray, memoryview)) else v
        try:
            at = index_of.get(k)
        except TypeError:
            raise ArrowError("column %r (%r): cannot encode %r" % (f.name, f.type, v))
        if at is None:
            at = index_of[k] = len(distinct)
            distinct.append(k)
        keys.append(at)
    index = f.type.index
    most = (1 << (index.bits - 1 if index.signed else index.bits)) - 1
    if len(distinct) - 1 > most:
        raise ArrowError("column %r: %d distinct values do not fit %r keys" % (f.name, len(distinct), index))
    return keys, distinct


def _record_batch(fields, columns, num_rows):
    """(header writer, body) of a record batch of `columns`."""
    nodes, buffers, body = [], [], bytearray()
    for f, values in zip(fields, columns):
        nulls, bufs = _column_buffers(f, values)
        nodes.append(struct.pack("<qq", len(values), nulls))
        for b in bufs:
            buffers.append(struct.pack("<qq", len(body), len(b)))
            body += b
            body += bytes((-len(body)) % 8)

    def header(w):
        return [(0, "q", num_rows), (1, "o", w.structs(b"".join(nodes), len(nodes))),
                (2, "o", w.structs(b"".join(buffers), len(buffers)))]

    return header, body


def encode_batch(batch):
    """An IPC stream: the batch's schema, a dictionary batch for each
    dictionary-encoded column, the batch, the end-of-stream marker."""
    out = [_schema_message(batch.schema)]
    fields, columns = [], []
    for i, (f, values) in enumerate(zip(batch.schema.fields, batch.columns)):
        if not isinstance(f.type, DataType):
            raise UnsupportedArrow("column %r: %r is not a runtime_plugin.arrow type" % (f.name, f.type))
        if f.type.kind != "dictionary":
            fields.append(f)
            columns.append(values)
            continue
        keys, distinct = _encode_keys(f, values)
        data, body = _record_batch([Field(f.name, f.type.value, False)], [distinct], len(distinct))

        def header(w, i=i, data=data):
            return [(0, "q", i), (1, "o", w.sub(data(w))), (2, "B", 0)]

        out += [_message(_DICTIONARY, header, len(body)), bytes(body)]
        fields.append(Field(f.name, f.type.index, f.nullable))
        columns.append(keys)
    header, body = _record_batch(fields, columns, batch.num_rows)
    out += [_message(_RECORD_BATCH, header, len(body)), bytes(body), _EOS]
    return b"".join(out)
